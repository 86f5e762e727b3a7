// proto/joblet.proto, as compiled by buf, against the Joblet API v2 contract (a copy of
// shared/reference/joblet-api-v2-contract.md): every service, method, message, field number,
// name and type. Our own additions may only be fields numbered >= 100 or new services/messages.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../helpers/paths";

interface FieldDesc {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName?: string;
  oneofIndex?: number;
}
interface MessageDesc {
  name: string;
  field?: FieldDesc[];
  nestedType?: MessageDesc[];
  oneofDecl?: { name: string }[];
  options?: { mapEntry?: boolean };
}
interface Descriptor {
  file: { package: string; messageType: MessageDesc[]; service: { name: string; method: { name: string; inputType: string; outputType: string; serverStreaming?: boolean; clientStreaming?: boolean }[] }[] }[];
}

function compiled(): Descriptor["file"][number] {
  const dir = mkdtempSync(join(tmpdir(), "proto-"));
  try {
    const out = join(dir, "d.json");
    const p = Bun.spawnSync([join(REPO, "node_modules/.bin/buf"), "build", "-o", out], { cwd: REPO, stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(p.stderr.toString());
    const d = JSON.parse(readFileSync(out, "utf8")) as Descriptor;
    expect(d.file).toHaveLength(1);
    return d.file[0]!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SCALARS: Record<string, string> = {
  TYPE_STRING: "string",
  TYPE_INT32: "int32",
  TYPE_INT64: "int64",
  TYPE_UINT32: "uint32",
  TYPE_UINT64: "uint64",
  TYPE_BOOL: "bool",
  TYPE_BYTES: "bytes",
  TYPE_DOUBLE: "double",
  TYPE_FLOAT: "float",
};

/** The contract's spelling of a compiled field type: "repeated string", "map<string, string>", "Job". */
function typeOf(f: FieldDesc, m: MessageDesc): string {
  if (f.type === "TYPE_MESSAGE") {
    const short = f.typeName!.split(".").pop()!;
    const entry = m.nestedType?.find((n) => n.name === short && n.options?.mapEntry);
    if (entry) {
      const [k, v] = entry.field!;
      return `map<${typeOf(k!, entry)}, ${typeOf(v!, entry)}>`;
    }
    return f.label === "LABEL_REPEATED" ? `repeated ${short}` : short;
  }
  const t = SCALARS[f.type] ?? f.type;
  return f.label === "LABEL_REPEATED" ? `repeated ${t}` : t;
}

const contract = readFileSync(join(REPO, "test/fixtures/api/joblet-api-v2-contract.md"), "utf8");
const rows = (block: string) =>
  block
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("|") && !l.startsWith("|---") && !l.startsWith("| #") && !l.startsWith("| rpc"))
    .map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));

const contractServices = [...contract.matchAll(/## service (\w+)\n\n([\s\S]*?)(?=\n## |\n### |$)/g)].map((m) => ({ name: m[1]!, methods: rows(m[2]!) }));
const contractMessages = [...contract.matchAll(/### (\w+)\n\n([\s\S]*?)(?=\n### |\n## |$)/g)].map((m) => ({ name: m[1]!, fields: rows(m[2]!) }));

describe("wire contract", () => {
  const file = compiled();

  test("the contract copy parsed into its services and messages", () => {
    expect(contractServices.map((s) => s.name)).toEqual(["JobService", "NetworkService", "VolumeService", "MonitoringService", "RuntimeService"]);
    expect(contractMessages.length).toBe(76);
    expect(file.package).toBe("joblet");
  });

  test("every service and method, with request and (stream) response types", () => {
    for (const s of contractServices) {
      const ours = file.service.find((x) => x.name === s.name);
      expect(ours, s.name).toBeDefined();
      const got = ours!.method.map((m) => [m.name, m.inputType.replace(".joblet.", ""), `${m.serverStreaming ? "stream " : ""}${m.outputType.replace(".joblet.", "")}`]);
      expect(got).toEqual(s.methods);
    }
  });

  test("every message: field numbers, names and types; additions only numbered >= 100", () => {
    for (const c of contractMessages) {
      const m = file.messageType.find((x) => x.name === c.name);
      expect(m, c.name).toBeDefined();
      const fields = m!.field ?? [];
      const expected = c.fields.map(([num, name, type, note]) => ({ num: Number(num), name, type, oneof: note?.match(/oneof (\w+)/)?.[1] }));
      const got: { num: number; name: string | undefined; type: string | undefined; oneof: string | undefined }[] = fields
        .filter((f) => f.number < 100)
        .map((f) => ({ num: f.number, name: f.name, type: typeOf(f, m!), oneof: f.oneofIndex === undefined ? undefined : m!.oneofDecl![f.oneofIndex]!.name }));
      expect({ message: c.name, fields: got }).toEqual({ message: c.name, fields: expected });
    }
  });
});
