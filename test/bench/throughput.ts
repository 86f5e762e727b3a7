// Throughput benchmark: many clients submitting short jobs at once. <clients> separate mTLS
// connections submit <jobs> `/bin/true` jobs between them, each client back to back with one
// RunJob in flight, to a daemon with joblet.maxConcurrentJobs = <max> (jobs beyond it wait as
// PENDING: RunJob answers at once for them, and once RUNNING for a job that gets a slot).
// Measures jobs completed per second, submit→completed per job (just before its RunJob → the
// moment this process first sees it terminal), the RunJob round trip, and the daemon's peak RSS.
// Target on the 2-core machine: ≥ 200 jobs/s with 0 failures. Always exits 0 (a benchmark, not a
// test) unless the daemon crashed.
// Run: ./node_modules/.bin/bun test/bench/throughput.ts [--jobs=2000] [--clients=16] [--max=64] [--poll=20]
// Diagnostics: DAEMON_PROFILE=<dir> writes a CPU profile of the daemon (as history.ts),
// DAEMON_LOG=<file> keeps the daemon's log.
//
// How completion is observed: one watcher on its own connection calls ListJobs, sleeps --poll ms,
// and calls again, and records the first time it sees each uuid in a final state. Per-job
// GetJobStatus polling cannot be honest here: queued jobs are answered at once, so up to <jobs>
// jobs are outstanding together, and polling each every 20 ms would be tens of thousands of
// RPCs a second fighting the jobs for the 2 cores (polling only some of them would see the rest
// late). Log streams (start.ts's way) are refused for PENDING jobs. One ListJobs per period costs
// the daemon O(stored jobs) per call, which is counted and printed (its round trip), and the
// watcher reads only each job's uuid, status and failure fields from the undecoded response, so
// this process spends little CPU decoding. The price is resolution: a job is seen up to one poll
// period (plus a ListJobs round trip) after it ended, so submit→completed is overstated by about
// half of that on average; the table prints the period actually achieved.
import * as grpc from "@grpc/grpc-js";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientJobService } from "../../src/api/codecs";
import { TERMINAL, type JobStatus } from "../../src/daemon/jobs/job";
import type { JobServiceClient } from "../../src/gen/joblet";
import { call, isError, jobClient, runRequest } from "../helpers/client";
import { startDaemon } from "../helpers/daemon";
import { BWRAP, installed, numberArg, rateOf, reportFigures, UNSHARE } from "../helpers/bench-report";

const JOBS = numberArg("jobs", 2000);
const CLIENTS = numberArg("clients", 16);
const MAX = numberArg("max", 64);
const POLL_MS = numberArg("poll", 20);
const TARGET_RATE = 200;
const STALL_MS = 60_000; // give up when no job has ended for this long

const q = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : NaN);

// ---- a minimal reader of the Jobs message: uuid (1), status (9), failure_reason (101), failure_message (102) per job
interface Seen {
  uuid: string;
  status: string;
  failure: string;
}
function varint(b: Buffer, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const x = b[pos++]!;
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, pos];
    mul *= 128;
  }
}
function skip(b: Buffer, pos: number, wire: number): number {
  if (wire === 0) return varint(b, pos)[1];
  if (wire === 1) return pos + 8;
  if (wire === 2) {
    const [n, p] = varint(b, pos);
    return p + n;
  }
  if (wire === 5) return pos + 4;
  throw new Error(`unexpected wire type ${wire}`);
}
function readJobs(b: Buffer): Seen[] {
  const out: Seen[] = [];
  let pos = 0;
  while (pos < b.length) {
    const [key, p] = varint(b, pos);
    if (key >>> 3 !== 1 || (key & 7) !== 2) {
      pos = skip(b, p, key & 7);
      continue;
    }
    const [len, start] = varint(b, p);
    const end = start + len;
    const job: Seen = { uuid: "", status: "", failure: "" };
    let reason = "";
    let message = "";
    let i = start;
    while (i < end) {
      const [k, j] = varint(b, i);
      const field = k >>> 3;
      if ((k & 7) === 2 && (field === 1 || field === 9 || field === 101 || field === 102)) {
        const [n, s] = varint(b, j);
        const str = b.toString("utf8", s, s + n);
        if (field === 1) job.uuid = str;
        else if (field === 9) job.status = str;
        else if (field === 101) reason = str;
        else message = str;
        i = s + n;
      } else i = skip(b, j, k & 7);
    }
    job.failure = [reason, message].filter(Boolean).join(": ");
    out.push(job);
    pos = end;
  }
  return out;
}
function rawClient(address: string, ca: string, cert: { key: string; cert: string }) {
  const def = { ...clientJobService, listJobs: { ...clientJobService.listJobs, responseDeserialize: (b: Buffer) => b } };
  const Ctor = grpc.makeGenericClientConstructor(def, "joblet.JobService");
  return new Ctor(address, grpc.credentials.createSsl(Buffer.from(ca), Buffer.from(cert.key), Buffer.from(cert.cert)), {
    "grpc.ssl_target_name_override": "joblet",
    "grpc.max_receive_message_length": 256 * 1024 * 1024,
  }) as unknown as grpc.Client & { listJobs: (q: object, md: grpc.Metadata, o: object, cb: (e: grpc.ServiceError | null, b: Buffer) => void) => void };
}

// The daemon logs to a file: on stdout, read by this busy process through a pipe, its log writes
// would block whenever this process fell behind, and the benchmark would measure itself.
const logDir = mkdtempSync(join(tmpdir(), "throughput-log-"));
const logFile = join(logDir, "daemon.log");
const daemonLog = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "") + d.output();
const d = await startDaemon({
  env: process.env.DAEMON_PROFILE ? { BUN_OPTIONS: `--cpu-prof-md --cpu-prof-dir=${process.env.DAEMON_PROFILE}` } : {},
  config: {
    logging: { level: "info", outputs: [{ type: "file", path: logFile, format: "text", rotate: false }] }, // "job started" lines (info) without the helper's debug chatter
    joblet: { maxConcurrentJobs: MAX, maxQueuedJobs: Math.max(JOBS, 1000) },
  },
});
let stopping = false;
let crashed: number | undefined;
void d.exited.then((code) => {
  if (!stopping) crashed = code;
});

// peak RSS: VmRSS every 100 ms, and the kernel's own high-water mark (VmHWM) at the end
const rssKb = () => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d.pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
};
const hwmKb = () => {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${d.pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
};
/** CPU seconds (user, system) of a process, and of its reaped children */
const cpuOf = (pid: number | "self") => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return { own: (Number(f[11]) + Number(f[12])) / 100, children: (Number(f[13]) + Number(f[14])) / 100 };
  } catch {
    return { own: NaN, children: NaN };
  }
};
const rssStart = rssKb();
let rssPeak = rssStart;
const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssKb())), 100);

const clients: JobServiceClient[] = [];
const watcher = rawClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
const listJobs = () =>
  new Promise<Buffer>((resolve, reject) =>
    watcher.listJobs({}, new grpc.Metadata(), { deadline: Date.now() + 60_000 }, (e, b) => (e ? reject(new Error(`ListJobs: ${e.details}`)) : resolve(b))),
  );

interface Sub {
  t0: number;
  rpcMs: number;
  returned: string;
}
const submitted = new Map<string, Sub>();
const rpcErrors: string[] = [];
const ended = new Map<string, { at: number; status: string; failure: string }>();
const listLat: number[] = [];
const periods: number[] = [];
let wall = 0;
let watchErr: Error | undefined;
let cpu0: { daemon: ReturnType<typeof cpuOf>; self: ReturnType<typeof cpuOf> } | undefined;
let cpu1: { daemon: ReturnType<typeof cpuOf>; self: ReturnType<typeof cpuOf>; wall: number } | undefined;

try {
  for (let i = 0; i < CLIENTS; i++) clients.push(jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin));
  // warm-up: one job per connection (TLS handshake, JIT on both sides), not measured, then removed
  const warm = await Promise.all(clients.map((c) => call(c.runJob, c, runRequest({ command: "/bin/true" }))));
  for (const r of warm) if (isError(r)) throw new Error(`warm-up RunJob: ${r.details}`);
  for (const deadline = Date.now() + 30_000; ; ) {
    const jobs = readJobs(await listJobs());
    if (jobs.every((j) => TERMINAL.has(j.status as JobStatus))) break;
    if (Date.now() > deadline) throw new Error("warm-up jobs did not end");
    await Bun.sleep(20);
  }
  const del = await call(clients[0]!.deleteAllJobs, clients[0]!, {});
  if (isError(del)) throw new Error(`DeleteAllJobs: ${del.details}`);

  let submitting = true;
  cpu0 = { daemon: cpuOf(d.pid), self: cpuOf("self") };
  const t0 = performance.now();
  const watch = (async () => {
    let lastProgress = performance.now();
    let prev = performance.now();
    for (;;) {
      const a = performance.now();
      const jobs = readJobs(await listJobs());
      const now = performance.now(); // the moment this process sees the list
      listLat.push(now - a);
      periods.push(now - prev);
      prev = now;
      for (const j of jobs) {
        if (!ended.has(j.uuid) && TERMINAL.has(j.status as JobStatus)) {
          ended.set(j.uuid, { at: now, status: j.status, failure: j.failure });
          lastProgress = now;
        }
      }
      if (!submitting && [...submitted.keys()].every((u) => ended.has(u))) return;
      if (crashed !== undefined) throw new Error(`the daemon exited (${crashed}) during the run`);
      if (now - lastProgress > STALL_MS) throw new Error(`no job ended for ${STALL_MS / 1000} s; ${submitted.size - ended.size} jobs outstanding`);
      await Bun.sleep(POLL_MS);
    }
  })();
  await Promise.all(
    clients.map(async (c, i) => {
      const share = Math.floor(JOBS / CLIENTS) + (i < JOBS % CLIENTS ? 1 : 0);
      const request = runRequest({ command: "/bin/true" });
      for (let k = 0; k < share; k++) {
        const s = performance.now();
        const r = await call(c.runJob, c, request);
        const e = performance.now();
        if (isError(r)) rpcErrors.push(`RunJob: ${grpc.status[r.code]}: ${r.details}`);
        else submitted.set(r.jobUuid, { t0: s, rpcMs: e - s, returned: r.status });
        if (crashed !== undefined) return;
      }
    }),
  );
  submitting = false;
  try {
    await watch;
  } catch (e) {
    watchErr = e as Error;
  }
  // the last terminal job seen (or now, if the run was cut short)
  wall = (watchErr ? performance.now() : Math.max(...[...ended.values()].map((x) => x.at), t0)) - t0;
  cpu1 = { daemon: cpuOf(d.pid), self: cpuOf("self"), wall: (performance.now() - t0) / 1000 };
} finally {
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, rssKb());
  const hwm = hwmKb();
  for (const c of clients) c.close();
  watcher.close();
  await Bun.sleep(200); // let the daemon's last log lines arrive
  stopping = true;
  const code = crashed ?? (await d.stop());
  if (crashed !== undefined) await d.stop(); // removes its directory
  if (process.env.DAEMON_LOG) writeFileSync(process.env.DAEMON_LOG, daemonLog());
  report(hwm, code, await baselines());
  rmSync(logDir, { recursive: true, force: true });
}

/**
 * The same number of sandboxes (at most 1000) made by bubblewrap alone and by plain unshare,
 * <clients> at a time, on the same machine right after: the cost of the namespaces and mounts
 * without a daemon, an API, state, logs or cgroups. Undefined when the tool is not installed.
 */
async function baselines(): Promise<{ bwrap?: number; unshare?: number }> {
  const total = Math.min(JOBS, 1000);
  return {
    bwrap: installed(BWRAP) ? await rateOf(BWRAP, total, CLIENTS) : undefined,
    unshare: installed(UNSHARE) ? await rateOf(UNSHARE, total, CLIENTS) : undefined,
  };
}

function report(hwmKbAtEnd: number, exitCode: number, base: { bwrap?: number; unshare?: number }): void {
  const mine = [...submitted.entries()];
  const lat = mine.filter(([u]) => ended.has(u)).map(([u, s]) => ended.get(u)!.at - s.t0);
  const completed = mine.filter(([u]) => ended.get(u)?.status === "COMPLETED").length;
  const badEnds = mine.filter(([u]) => ended.has(u) && ended.get(u)!.status !== "COMPLETED").map(([u]) => `${u}: ${ended.get(u)!.status} ${ended.get(u)!.failure}`);
  const unfinished = mine.filter(([u]) => !ended.has(u)).length;
  const failed = rpcErrors.length + badEnds.length + unfinished;
  const rpc = mine.map(([, s]) => s.rpcMs);
  const rpcBy = (st: string) => mine.filter(([, s]) => s.returned === st).map(([, s]) => s.rpcMs);
  const mineSet = new Set(submitted.keys());
  const starts = [...daemonLog().matchAll(/job started job=(\S+) .*startMs=([\d.]+)/g)].filter((m) => mineSet.has(m[1]!)).map((m) => Number(m[2]));
  const rate = wall > 0 ? completed / (wall / 1000) : 0;
  const all = JOBS;

  const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : "-");
  const row = (name: string, ...cols: string[]) => console.log(`${name.padEnd(50)} ${cols.map((c) => c.padStart(9)).join(" ")}`);
  console.log(`\nthroughput: ${all} × /bin/true from ${CLIENTS} clients (one RunJob in flight each), maxConcurrentJobs ${MAX}, mTLS on loopback\n`);
  row("measure", "value");
  row("jobs submitted (RunJob answered)", String(submitted.size));
  row("jobs completed (COMPLETED)", String(completed));
  row("jobs failed (RPC error, not COMPLETED, not ended)", String(failed));
  row("wall time, first RunJob -> last job seen ended (s)", f(wall / 1000, 2));
  row("jobs completed per second", f(rate, 1));
  if (base.bwrap) row(`bwrap /bin/true alone, ${CLIENTS} at a time (per second)`, `${f(base.bwrap, 1)} (joblet ${f(rate / base.bwrap, 2)}×)`);
  if (base.unshare) row(`unshare /bin/true alone, ${CLIENTS} at a time (per s)`, `${f(base.unshare, 1)} (joblet ${f(rate / base.unshare, 2)}×)`);
  row("daemon RSS at start / peak, sampled 100 ms (MB)", `${f(rssStart / 1024)} / ${f(rssPeak / 1024)}`);
  row("daemon VmHWM at the end (MB)", f(hwmKbAtEnd / 1024));
  if (cpu0 && cpu1) {
    const pct = (a: number, b: number) => `${f(((b - a) / cpu1!.wall) * 100, 0)}%`;
    row("CPU over the run, % of one core: daemon itself", pct(cpu0.daemon.own, cpu1.daemon.own));
    row("  its reaped children (jobs, joblet-init)", pct(cpu0.daemon.children, cpu1.daemon.children));
    row("  this process (clients and watcher)", pct(cpu0.self.own, cpu1.self.own));
  }
  console.log("");
  row("latency (ms)", "n", "p50", "p90", "p99", "max");
  row("submit -> completed (seen by the watcher)", String(lat.length), f(q(lat, 50)), f(q(lat, 90)), f(q(lat, 99)), f(Math.max(...lat)));
  row("RunJob round trip, all", String(rpc.length), f(q(rpc, 50)), f(q(rpc, 90)), f(q(rpc, 99)), f(Math.max(...rpc)));
  for (const st of [...new Set(mine.map(([, s]) => s.returned))].sort()) {
    const xs = rpcBy(st);
    row(`  answered ${st}`, String(xs.length), f(q(xs, 50)), f(q(xs, 90)), f(q(xs, 99)), f(Math.max(...xs)));
  }
  row("daemon: RunJob (or turn) -> command exec'd", String(starts.length), f(q(starts, 50)), f(q(starts, 90)), f(q(starts, 99)), f(Math.max(...starts)));
  row(`watcher: ListJobs round trip`, String(listLat.length), f(q(listLat, 50)), f(q(listLat, 90)), f(q(listLat, 99)), f(Math.max(...listLat)));
  row(`watcher: poll period (sleep ${POLL_MS} ms + round trip)`, String(periods.length), f(q(periods, 50)), f(q(periods, 90)), f(q(periods, 99)), f(Math.max(...periods)));

  const errs = [...rpcErrors, ...badEnds];
  if (errs.length) console.log(`\nfirst errors:\n  ${errs.slice(0, 5).join("\n  ")}`);
  if (unfinished) console.log(`${unfinished} jobs were not seen ended`);
  if (watchErr) console.log(`run cut short: ${watchErr.message}`);
  const out = daemonLog();
  const noted = out.split("\n").filter((l) => / (WARN|ERROR) /.test(l));
  if (noted.length) console.log(`\ndaemon log: ${noted.length} WARN/ERROR lines, first ones:\n  ${noted.slice(0, 5).join("\n  ")}`);
  const met = rate >= TARGET_RATE && failed === 0;
  reportFigures("throughput", { rate, failed, p50: q(lat, 50), p99: q(lat, 99), bwrapRate: base.bwrap, unshareRate: base.unshare, peakRssMb: rssPeak / 1024 });
  console.log(`\ntarget ≥ ${TARGET_RATE} jobs/s on this 2-core machine with 0 failures: ${met ? "met" : "NOT met"} (${f(rate)} jobs/s, ${failed} failed)`);
  if (crashed !== undefined) {
    console.log(`\nthe daemon CRASHED (exit ${crashed}); its log's last lines:\n${out.split("\n").slice(-20).join("\n")}`);
    process.exitCode = 1;
  } else if (exitCode !== 0) console.log(`\nthe daemon exited ${exitCode} on SIGTERM`);
}
