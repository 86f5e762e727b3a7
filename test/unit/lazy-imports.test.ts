// `--version` and `--help` must not load grpc-js or the generated protocol code (startup is a
// feature). This walks the static import graph from the entry points: anything reached only
// through `await import()` is loaded lazily; `import type` is erased.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { REPO } from "../helpers/paths";

const STATIC_IMPORT = /^\s*import\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?["']([^"']+)["']/gm;

function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!file.endsWith(".ts")) return;
    for (const m of readFileSync(file, "utf8").matchAll(STATIC_IMPORT)) {
      const spec = m[1]!;
      if (!spec.startsWith(".")) {
        seen.add(spec);
        continue;
      }
      const base = resolve(dirname(file), spec);
      visit([base, `${base}.ts`, join(base, "index.ts")].find((p) => existsSync(p) && p.match(/\.(ts|so|yml|json)$/)) ?? base);
    }
  };
  visit(join(REPO, entry));
  return seen;
}

describe("startup path", () => {
  test("the import walker sees what it should (sanity check on a module that does load grpc-js)", () => {
    const c = staticClosure("src/commands/connection.ts");
    expect(c.has("@grpc/grpc-js")).toBe(true);
    expect([...c].some((f) => f.endsWith("src/gen/joblet.ts"))).toBe(true);
  });

  for (const entry of ["src/main.ts", "src/commands/dispatch.ts"]) {
    test(`${entry} does not statically load grpc-js, generated code or bun:ffi`, () => {
      const c = [...staticClosure(entry)];
      expect(c.filter((f) => f === "@grpc/grpc-js" || f.endsWith("gen/joblet.ts") || f === "bun:ffi" || f === "yaml" || f === "zod")).toEqual([]);
    });
  }

  test("main.ts statically imports only the version", () => {
    const c = [...staticClosure("src/main.ts")].map((f) => f.replace(`${REPO}/`, ""));
    expect(c.sort()).toEqual(["package.json", "src/main.ts", "src/version.ts"]);
  });
});
