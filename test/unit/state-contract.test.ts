// The state store contract, run against every backend: memory, and local (SQLite in a temporary
// directory). Local-only behaviour (durability, corruption, migrations) is in state-sqlite.test.ts.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobRecord } from "../../src/daemon/jobs/job";
import { MemoryStateStore } from "../../src/daemon/state/memory";
import { SqliteStateStore } from "../../src/daemon/state/sqlite";
import { StateError, type StateStore } from "../../src/daemon/state/store";

function job(i: number, over: Partial<JobRecord> = {}): JobRecord {
  return {
    uuid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`,
    name: `job-${i}`,
    command: "python3",
    args: ["-c", "print('hello')", `--n=${i}`],
    maxCpu: 100,
    cpuCores: "0-3",
    maxMemory: 512,
    maxIoBps: 0,
    maxPids: 100,
    network: "none",
    volumes: [],
    runtime: "",
    workDir: "/work",
    environment: { LANG: "C.UTF-8", N: String(i) },
    secretNames: ["API_KEY"],
    uploads: ["main.py"],
    gpuCount: 0,
    gpuMemoryMb: 0,
    status: "COMPLETED",
    startTime: new Date(1_700_000_000_000 + i * 1000).toISOString(),
    endTime: new Date(1_700_000_000_000 + i * 1000 + 500).toISOString(),
    exitCode: 0,
    timeoutMs: 0,
    nodeId: "11111111-2222-3333-4444-555555555555",
    ...over,
  };
}

interface Opened {
  store: StateStore;
  cleanup(): void;
}

function contract(backend: "memory" | "local", open: () => Opened) {
  describe(`state store contract: ${backend}`, () => {
    let o: Opened;
    let s: StateStore;
    beforeEach(() => {
      o = open();
      s = o.store;
    });
    afterEach(() => {
      s.close();
      o.cleanup();
    });

    test("names its backend", () => {
      expect(s.backend).toBe(backend);
    });

    test("put, get, count, list, delete", () => {
      expect(s.jobs.count()).toBe(0);
      expect(s.jobs.list()).toEqual([]);
      s.jobs.put(job(1));
      s.jobs.put(job(2));
      expect(s.jobs.count()).toBe(2);
      expect(s.jobs.get(job(1).uuid)).toEqual(job(1));
      expect(s.jobs.list().map((j) => j.name).sort()).toEqual(["job-1", "job-2"]);
      expect(s.jobs.delete(job(1).uuid)).toBe(true);
      expect(s.jobs.get(job(1).uuid)).toBeUndefined();
      expect(s.jobs.count()).toBe(1);
      expect(s.jobs.list()).toEqual([job(2)]);
    });

    test("a missing uuid: get is undefined, delete is false", () => {
      expect(s.jobs.get("nope")).toBeUndefined();
      expect(s.jobs.delete("nope")).toBe(false);
      s.jobs.put(job(1));
      expect(s.jobs.delete(job(1).uuid)).toBe(true);
      expect(s.jobs.delete(job(1).uuid)).toBe(false);
    });

    test("put replaces the whole record (no merge)", () => {
      s.jobs.put(job(1, { status: "RUNNING", exitCode: undefined, endTime: undefined, failureMessage: "x" }));
      const done = job(1, { status: "FAILED", exitCode: 3 });
      s.jobs.put(done);
      expect(s.jobs.count()).toBe(1);
      const got = s.jobs.get(done.uuid)!;
      expect(got).toEqual(done);
      expect("failureMessage" in got).toBe(false);
    });

    test("values go in and out as copies", () => {
      const j = job(1);
      s.jobs.put(j);
      j.args.push("mutated");
      j.environment.X = "mutated";
      j.status = "FAILED";
      expect(s.jobs.get(j.uuid)).toEqual(job(1));

      const got = s.jobs.get(j.uuid)!;
      got.args.length = 0;
      got.environment.LANG = "mutated";
      got.name = "mutated";
      expect(s.jobs.get(j.uuid)).toEqual(job(1));

      const listed = s.jobs.list();
      listed[0]!.volumes.push("mutated");
      listed[0]!.secretNames = [];
      listed.pop();
      expect(s.jobs.list()).toEqual([job(1)]);
      expect(s.jobs.get(j.uuid)).not.toBe(s.jobs.get(j.uuid));
    });

    test("records pass through JSON: undefined fields dropped, unusual keys kept", () => {
      const env: Record<string, string> = JSON.parse('{"__proto__":"p","constructor":"c","PATH":"/bin"}');
      const j = job(1, { endTime: undefined, environment: env, name: "ünïcødé \u2028 \"quoted\" \\ 🚀" });
      s.jobs.put(j);
      const got = s.jobs.get(j.uuid)!;
      expect("endTime" in got).toBe(false);
      expect(Object.keys(got.environment)).toEqual(["__proto__", "constructor", "PATH"]);
      expect(Object.getPrototypeOf(got.environment)).toBe(Object.prototype);
      expect(got.environment["__proto__"]).toBe("p");
      expect(got.name).toBe(j.name);
    });

    test("refuses records it cannot key or encode, and bad table names", () => {
      expect(() => s.jobs.put({} as JobRecord)).toThrow(TypeError);
      expect(() => s.jobs.put({ uuid: "" } as JobRecord)).toThrow(TypeError);
      expect(() => s.jobs.put({ uuid: 7 } as unknown as JobRecord)).toThrow(TypeError);
      const cyclic = { uuid: "c" } as Record<string, unknown>;
      cyclic.self = cyclic;
      expect(() => s.table<{ uuid: string }>("things").put(cyclic as { uuid: string })).toThrow(TypeError);
      // a record whose JSON would not load again under its uuid
      expect(() => s.table("things").put({ uuid: "a", toJSON: () => ({ uuid: "b" }) })).toThrow(TypeError);
      expect(() => s.table("things").put({ uuid: "a", toJSON: () => undefined })).toThrow(TypeError);
      expect(s.table("things").count()).toBe(0);
      for (const bad of ["", "Jobs", "bad-name", "1x", "sqlite_master", 'x"; DROP TABLE jobs; --', "a".repeat(64)]) {
        expect(() => s.table(bad)).toThrow(TypeError);
      }
      expect(s.jobs.count()).toBe(0);
    });

    test("generic tables: isolated from each other and from jobs", () => {
      interface Workflow {
        uuid: string;
        jobs: string[];
      }
      const shared = job(1).uuid;
      const workflows = s.table<Workflow>("workflows");
      const volumes = s.table<{ uuid: string; size: number }>("volumes");
      s.jobs.put(job(1));
      workflows.put({ uuid: shared, jobs: ["a", "b"] });
      volumes.put({ uuid: shared, size: 10 });
      volumes.put({ uuid: "v2", size: 20 });
      expect(s.jobs.get(shared)).toEqual(job(1));
      expect(workflows.get(shared)).toEqual({ uuid: shared, jobs: ["a", "b"] });
      expect(volumes.get(shared)).toEqual({ uuid: shared, size: 10 });
      expect([s.jobs.count(), workflows.count(), volumes.count()]).toEqual([1, 1, 2]);
      expect(workflows.delete(shared)).toBe(true);
      expect(s.jobs.get(shared)).toEqual(job(1));
      expect(volumes.get(shared)).toEqual({ uuid: shared, size: 10 });
      // one table per name
      expect(s.table("volumes")).toBe(volumes);
      expect(s.table<JobRecord>("jobs")).toBe(s.jobs);
      expect(s.table<Workflow>("workflows").count()).toBe(0);
      expect(workflows.name).toBe("workflows");
    });

    test("10 000 records", () => {
      const n = 10_000;
      for (let i = 0; i < n; i++) s.jobs.put(job(i));
      expect(s.jobs.count()).toBe(n);
      const t = performance.now();
      const all = s.jobs.list();
      const listMs = performance.now() - t;
      expect(all.length).toBe(n);
      expect(new Set(all.map((j) => j.uuid)).size).toBe(n);
      expect(s.jobs.get(job(4321).uuid)).toEqual(job(4321));
      expect(listMs).toBeLessThan(250); // generous for loaded CI hosts; the bench reports the real figure
      for (let i = 0; i < n; i += 2) s.jobs.delete(job(i).uuid);
      expect(s.jobs.count()).toBe(n / 2);
      expect(s.jobs.get(job(2).uuid)).toBeUndefined();
      expect(s.jobs.get(job(3).uuid)).toEqual(job(3));
    }, 60_000);

    test("stage: seen at once, durable once commit() resolves; changes keep their order with put and delete", async () => {
      s.jobs.stage(job(1, { status: "RUNNING" }));
      s.jobs.stage(job(2));
      expect(s.jobs.get(job(1).uuid)?.status).toBe("RUNNING"); // before the commit
      await s.commit();
      s.jobs.stage(job(1, { status: "COMPLETED" }));
      s.jobs.put(job(1, { status: "FAILED" })); // the later put wins
      s.jobs.stage(job(3));
      expect(s.jobs.delete(job(3).uuid)).toBe(true);
      await s.commit();
      await s.commit(); // nothing staged: at once
      expect(s.jobs.get(job(1).uuid)?.status).toBe("FAILED");
      expect(s.jobs.get(job(3).uuid)).toBeUndefined();
      expect(s.jobs.count()).toBe(2);
    });

    test("a closed store refuses every call", () => {
      const t = s.table("things");
      s.jobs.put(job(1));
      s.close();
      s.close(); // twice is fine
      for (const call of [() => s.jobs.get(job(1).uuid), () => s.jobs.list(), () => s.jobs.put(job(2)), () => s.jobs.stage(job(2)), () => s.commit(), () => s.jobs.delete(job(1).uuid), () => s.jobs.count(), () => t.count(), () => s.table("other")]) {
        expect(call).toThrow(StateError);
      }
    });
  });
}

contract("memory", () => ({ store: new MemoryStateStore(), cleanup() {} }));

contract("local", () => {
  const dir = mkdtempSync(join(tmpdir(), "state-contract-"));
  return { store: SqliteStateStore.open(join(dir, "state")), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
});
