// History through the real daemon (issue 5): ListJobs round trip over mTLS with 10 000 stored
// jobs (target ≤ 50 ms), and replay of a finished job's log from disk to a local gRPC client
// (target ≥ 500 MB/s). The jobs are written into the state database before the daemon starts, as
// a daemon that ran them would have left them.
// Run: ./node_modules/.bin/bun test/bench/history.ts [jobs=10000] [logMB=512] [runs=5]
// Diagnostics: CPU=1 prints both processes' CPU use and the daemon's page faults per replay,
// CHUNK=<bytes> sets buffers.chunk_size, DAEMON_PROFILE=<dir> writes a CPU profile of the daemon.
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientJobService } from "../../src/api/codecs";
import type { JobRecord } from "../../src/daemon/jobs/job";
import { SqliteStateStore } from "../../src/daemon/state/sqlite";
import { call, isError, jobClient, runRequest } from "../helpers/client";
import { startDaemon } from "../helpers/daemon";

const JOBS = Number(process.argv[2] ?? 10_000);
const LOG_MB = Number(process.argv[3] ?? 512);
const RUNS = Number(process.argv[4] ?? 5);
const root = mkdtempSync(join(tmpdir(), "history-bench-"));

function record(i: number): JobRecord {
  const start = new Date(1_700_000_000_000 + i * 1000).toISOString();
  return {
    uuid: crypto.randomUUID(),
    name: `job-${i}`,
    command: "python3",
    args: ["/work/run.py", "--shard", String(i % 64)],
    maxCpu: 100,
    cpuCores: "",
    maxMemory: 512,
    maxIoBps: 0,
    maxPids: 512,
    network: "none",
    volumes: [],
    runtime: "",
    workDir: "/work",
    environment: { STAGE: "bench", SHARD: String(i % 64) },
    secretNames: [],
    uploads: [],
    gpuCount: 0,
    gpuMemoryMb: 0,
    status: "COMPLETED",
    startTime: start,
    endTime: start,
    exitCode: 0,
    timeoutMs: 0,
    nodeId: "11111111-2222-3333-4444-555555555555",
  };
}

/** A JobService client whose ListJobs hands back the undecoded response. */
function rawClient() {
  const def = { ...clientJobService, listJobs: { ...clientJobService.listJobs, responseDeserialize: (b: Buffer) => b } };
  const Ctor = grpc.makeGenericClientConstructor(def, "joblet.JobService");
  return new Ctor(d.address, grpc.credentials.createSsl(Buffer.from(d.pki.ca.cert), Buffer.from(d.pki.clients.admin.key), Buffer.from(d.pki.clients.admin.cert)), {
    "grpc.ssl_target_name_override": "joblet",
    "grpc.max_receive_message_length": 256 * 1024 * 1024,
  }) as unknown as grpc.Client & { listJobs: (q: object, md: grpc.Metadata, o: object, cb: (e: grpc.ServiceError | null, b: Buffer) => void) => void };
}

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const row = (a: string, b: string, c: string, d = "") => console.log(`${a.padEnd(46)} ${b.padStart(12)} ${c.padStart(12)} ${d}`);

const store = SqliteStateStore.open(join(root, "state"));
for (let i = 0; i < JOBS; i++) store.jobs.put(record(i));
store.close();

const d = await startDaemon({
  env: process.env.DAEMON_PROFILE ? { BUN_OPTIONS: `--cpu-prof-md --cpu-prof-dir=${process.env.DAEMON_PROFILE}` } : {},
  config: {
    logging: { level: "warn" },
    ...(process.env.CHUNK ? { buffers: { chunk_size: Number(process.env.CHUNK) } } : {}),
    joblet: { maxLogSize: `${LOG_MB + 16}MB` },
    persist: { storage: { local: { logs: { directory: join(root, "logs") }, metrics: { directory: join(root, "metrics") } } }, retention: { max_age: "0", max_size: "0" } },
    state: { local: { directory: join(root, "state") } },
  },
});
const c = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
try {
  console.log(`history through the daemon (mTLS on loopback)\n`);
  row("measure", "p50", "p99", "");
  const lat: number[] = [];
  for (let i = 0; i < 60; i++) {
    const t0 = performance.now();
    const r = await call(c.listJobs, c, {});
    if (isError(r)) throw new Error(r.details);
    if (r.jobs.length !== JOBS) throw new Error(`ListJobs returned ${r.jobs.length} jobs`);
    if (i >= 10) lat.push(performance.now() - t0); // the first calls warm the connection and the JIT
  }
  row(`ListJobs, ${JOBS} stored jobs (ms)`, q(lat, 50).toFixed(1), q(lat, 99).toFixed(1), `target ≤ 50 ms p50: ${q(lat, 50) <= 50 ? "met" : "NOT met"}`);
  // the same call without decoding the 10 000 jobs in this (TypeScript) client: what the daemon
  // and the transport take, which every client pays before its own decoding
  const raw = rawClient();
  const rawLat: number[] = [];
  for (let i = 0; i < 60; i++) {
    const t0 = performance.now();
    const bytes = await new Promise<number>((resolve, reject) =>
      raw.listJobs({}, new grpc.Metadata(), {}, (e: grpc.ServiceError | null, b: Buffer) => (e ? reject(e) : resolve(b.length))),
    );
    if (i === 0) console.log(`  (the response is ${(bytes / 1024 / 1024).toFixed(1)} MB)`);
    if (i >= 10) rawLat.push(performance.now() - t0);
  }
  raw.close();
  row(`  same, response not decoded by the client (ms)`, q(rawLat, 50).toFixed(1), q(rawLat, 99).toFixed(1));

  // the writer: its output goes through joblet-init into the log file, never through the daemon
  const r = await call(c.runJob, c, runRequest({ command: "head", args: ["-c", `${LOG_MB}M`, "/dev/zero"] }));
  if (isError(r)) throw new Error(r.details);
  for (;;) {
    const s = await call(c.getJobStatus, c, { uuid: r.jobUuid });
    if (isError(s)) throw new Error(s.details);
    if (s.status === "COMPLETED") {
      const secs = (Date.parse(s.endTime) - Date.parse(s.startTime)) / 1000;
      row(`log write, ${LOG_MB} MB by one job, start to end (MB/s)`, (LOG_MB / secs).toFixed(0), "");
      break;
    }
    if (s.status === "FAILED") throw new Error(`the writer failed: ${s.failureMessage}`);
    await Bun.sleep(50);
  }
  const rates: number[] = [];
  const cpu = (pid: number | "self") => {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const faults = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[7]);
  for (let i = 0; i < RUNS; i++) {
    const c0 = cpu(d.pid);
    const f0 = faults(d.pid);
    const s0 = cpu("self");
    const t0 = performance.now();
    const bytes = await new Promise<number>((resolve, reject) => {
      let n = 0;
      const s = c.getJobLogs({ uuid: r.jobUuid });
      s.on("data", (m: { payload: Buffer }) => (n += m.payload.length));
      s.on("error", reject);
      s.on("end", () => resolve(n));
    });
    if (bytes !== LOG_MB * 1024 * 1024) throw new Error(`replayed ${bytes} bytes`);
    const secs = (performance.now() - t0) / 1000;
    rates.push(bytes / 1024 / 1024 / secs);
    if (process.env.CPU) console.log(`  daemon cpu ${(((cpu(d.pid) - c0) / secs) * 100).toFixed(0)}%, client cpu ${(((cpu("self") - s0) / secs) * 100).toFixed(0)}%, daemon minor faults ${faults(d.pid) - f0}`);
  }
  row(`log replay, ${LOG_MB} MB from disk (MB/s)`, q(rates, 50).toFixed(0), `min ${Math.min(...rates).toFixed(0)}`, `target ≥ 500 MB/s: ${q(rates, 50) >= 500 ? "met" : "NOT met"}`);
} finally {
  c.close();
  await d.stop();
  rmSync(root, { recursive: true, force: true });
}
