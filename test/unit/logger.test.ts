import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "../../src/daemon/logging/logger";

const dir = mkdtempSync(join(tmpdir(), "logger-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Out = { type: "file"; path: string; rotate: boolean; max_size: number; max_backups: number; max_age: number; format?: "json" | "text"; level?: "debug" | "info" | "warn" | "error" };
const file = (name: string, extra: Partial<Out> = {}): Out => ({ type: "file", path: join(dir, name), rotate: true, max_size: 0, max_backups: 3, max_age: 0, ...extra });

describe("daemon logger", () => {
  test("json lines carry time, level, component, message and fields", () => {
    const log = Logger.create({ level: "info", format: "json", outputs: [file("a.log")], components: {} });
    log.child("auth").info("permission denied", { cn: "vera", role: "viewer" });
    log.debug("hidden");
    log.close();
    const lines = readFileSync(join(dir, "a.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "info", component: "auth", msg: "permission denied", cn: "vera", role: "viewer" });
    expect(Date.parse(lines[0].time)).toBeGreaterThan(0);
  });

  test("per-component levels override the global level both ways", () => {
    const log = Logger.create({ level: "warn", format: "text", outputs: [file("b.log")], components: { grpc: "debug", cgroup: "error" } });
    log.child("grpc").debug("grpc detail");
    log.child("cgroup").warn("cgroup warning");
    log.child("network").info("network info");
    log.child("network").warn("network warning");
    log.close();
    const text = readFileSync(join(dir, "b.log"), "utf8");
    expect(text).toContain("DEBUG [grpc] grpc detail");
    expect(text).not.toContain("cgroup warning");
    expect(text).not.toContain("network info");
    expect(text).toContain("WARN  [network] network warning");
  });

  test("an output may have its own format and minimum level", () => {
    const log = Logger.create({ level: "debug", format: "text", outputs: [file("c.json", { format: "json", level: "error" }), file("c.txt")], components: {} });
    log.info("ordinary");
    log.error("bad", { code: 7 });
    log.close();
    expect(readFileSync(join(dir, "c.json"), "utf8").trim().split("\n").map((l) => JSON.parse(l).msg)).toEqual(["bad"]);
    expect(readFileSync(join(dir, "c.txt"), "utf8")).toContain("ordinary");
  });

  test("files rotate at max_size and keep max_backups", () => {
    const log = Logger.create({ level: "info", format: "text", outputs: [file("r.log", { max_size: 1000, max_backups: 2 })], components: {} });
    for (let i = 0; i < 100; i++) log.info(`line ${i} ${"x".repeat(40)}`);
    log.close();
    const names = readdirSync(dir).filter((n) => n.startsWith("r.log")).sort();
    expect(names).toEqual(["r.log", "r.log.1", "r.log.2"]);
    for (const n of names) expect(statSync(join(dir, n)).size).toBeLessThanOrEqual(1000);
    expect(readFileSync(join(dir, "r.log"), "utf8")).toContain("line 99 ");
    expect(readFileSync(join(dir, "r.log.1"), "utf8")).not.toContain("line 99 ");
  });

  test("backups older than max_age days are removed; files are not world-readable", () => {
    const old = join(dir, "age.log.1");
    writeFileSync(old, "old\n");
    const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000);
    utimesSync(old, tenDaysAgo, tenDaysAgo);
    const log = Logger.create({ level: "info", format: "text", outputs: [file("age.log", { max_age: 7 })], components: {} });
    log.info("fresh");
    log.close();
    expect(existsSync(old)).toBe(false);
    expect(statSync(join(dir, "age.log")).mode & 0o007).toBe(0);
  });
});
