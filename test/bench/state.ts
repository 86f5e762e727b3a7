// State store costs on this disk: put() rate with synchronous=FULL (what the daemon uses) and,
// for information, NORMAL; list() latency with 10 000 stored jobs (ListJobs target: 50 ms);
// open time with 10 000 jobs. Prints a table.
// Run: ./node_modules/.bin/bun test/bench/state.ts [jobs=10000] [puts=2000] [dir=$TMPDIR]
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobRecord, JobStatus } from "../../src/daemon/jobs/job";
import { MemoryStateStore } from "../../src/daemon/state/memory";
import { SqliteStateStore } from "../../src/daemon/state/sqlite";
import type { Table } from "../../src/daemon/state/store";

const JOBS = Number(process.argv[2] ?? 10_000);
const PUTS = Number(process.argv[3] ?? 2000);
const base = mkdtempSync(join(process.argv[4] ?? tmpdir(), "state-bench-"));

const STATUSES: JobStatus[] = ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED", "STOPPED", "RUNNING"];

function record(i: number): JobRecord {
  const status = STATUSES[i % STATUSES.length]!;
  const start = 1_700_000_000_000 + i * 997;
  return {
    uuid: crypto.randomUUID(),
    name: i % 3 ? `nightly-etl-${i}` : "",
    command: "python3",
    args: ["/work/pipeline/run.py", "--date", "2026-01-01", "--shard", String(i % 64), "--verbose"],
    maxCpu: 200,
    cpuCores: i % 4 ? "" : "0-3",
    maxMemory: 2048,
    maxIoBps: 50 * 1024 * 1024,
    maxPids: 256,
    network: "bridge",
    volumes: i % 5 ? [] : ["datasets", "cache"],
    runtime: "python-3.11-ml",
    workDir: "/work",
    environment: { PYTHONUNBUFFERED: "1", LANG: "C.UTF-8", PIPELINE_STAGE: "transform", SHARD: String(i % 64), OUTPUT_BUCKET: "s3://example-bucket/out" },
    secretNames: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    uploads: ["run.py", "config/pipeline.yaml", "lib/util.py"],
    gpuCount: 0,
    gpuMemoryMb: 0,
    status,
    startTime: new Date(start).toISOString(),
    ...(status === "RUNNING" ? {} : { endTime: new Date(start + 42_000).toISOString(), exitCode: status === "COMPLETED" ? 0 : 1 }),
    ...(status === "FAILED" ? { failureReason: "EXEC_FAILED" as const, failureMessage: "exit status 1" } : {}),
    timeoutMs: 3_600_000,
    nodeId: "8f14e45f-ceea-467f-a8f4-a4d2c5c7d0aa",
  };
}

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} ms`;
const rows: [string, string, string][] = [];
const row = (what: string, value: string, note = "") => rows.push([what, value, note]);

function timed(n: number, fn: () => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return out;
}

// put() rate
for (const sync of ["full", "normal"] as const) {
  const dir = join(base, `put-${sync}`);
  const s = SqliteStateStore.open(dir, { synchronous: sync });
  const recs = Array.from({ length: PUTS }, (_, i) => record(i));
  let k = 0;
  const lat = timed(PUTS, () => s.jobs.put(recs[k++]!));
  const total = lat.reduce((a, b) => a + b, 0);
  row(`put() synchronous=${sync.toUpperCase()}`, `${Math.round((PUTS / total) * 1000)} /s`, `p50 ${ms(q(lat, 50))}, p99 ${ms(q(lat, 99))}, max ${ms(Math.max(...lat))} (${PUTS} puts)`);
  s.close();
}

// 10 000 jobs
const dir = join(base, "list");
let s = SqliteStateStore.open(dir);
const t0 = performance.now();
for (let i = 0; i < JOBS; i++) s.jobs.put(record(i));
row(`fill ${JOBS} jobs (FULL)`, ms(performance.now() - t0), "one fsynced transaction per put");
const bytes = Math.round(s.jobs.list().reduce((n, j) => n + JSON.stringify(j).length, 0) / JOBS);
s.close();
row("database size", `${(statSync(join(dir, "joblet.db")).size / 1024 / 1024).toFixed(1)} MiB`, `~${bytes} B of JSON per job`);

const opens = timed(7, () => SqliteStateStore.open(dir).close());
row(`open() with ${JOBS} jobs`, ms(q(opens, 50)), `p50 of 7 (max ${ms(Math.max(...opens))}): header check, quick_check, load + parse every row`);

s = SqliteStateStore.open(dir);
const measureList = (label: string, t: Pick<Table<JobRecord>, "list">, n = 100, note = "") => {
  timed(10, () => t.list()); // warm up
  const lat = timed(n, () => t.list());
  row(label, `p50 ${ms(q(lat, 50))}`, `p99 ${ms(q(lat, 99))}${note}`);
};
measureList(`list() local, ${JOBS} jobs`, s.jobs, 200, " (target ≤ 50 ms)");
const lat = timed(100, () => s.jobs.list().sort((a, b) => a.startTime.localeCompare(b.startTime)));
row(`list() + sort by startTime (ListJobs)`, `p50 ${ms(q(lat, 50))}`, `p99 ${ms(q(lat, 99))}`);
const some = s.jobs.list().map((j) => j.uuid);
const gets = timed(10_000, () => s.jobs.get(some[Math.floor(Math.random() * some.length)]!));
row("get() local", `p50 ${ms(q(gets, 50))}`, `p99 ${ms(q(gets, 99))}`);

const mem = new MemoryStateStore();
for (const j of s.jobs.list()) mem.jobs.put(j);
measureList(`list() memory backend, ${JOBS} jobs`, mem.jobs);
const scans = timed(200, () => s.jobs.scan());
row(`scan() local (read-only views, ListJobs)`, `p50 ${ms(q(scans, 50))}`, `p99 ${ms(q(scans, 99))}`);
s.close();

rmSync(base, { recursive: true, force: true });

const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length))];
console.log(`state store benchmark: ${JOBS} jobs, ${PUTS} puts, bun ${Bun.version}, SQLite ${(new Database(":memory:").query("select sqlite_version() v").get() as { v: string }).v}\n`);
console.log(`${"measure".padEnd(w[0]!)}  ${"value".padEnd(w[1]!)}  notes`);
console.log(`${"-".repeat(w[0]!)}  ${"-".repeat(w[1]!)}  -----`);
for (const [a, b, c] of rows) console.log(`${a.padEnd(w[0]!)}  ${b.padEnd(w[1]!)}  ${c}`);
