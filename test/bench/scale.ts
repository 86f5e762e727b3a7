// Scale (issue 7): many jobs running at once, and log throughput to live followers.
//  1. <jobs> jobs of `sleep <secs>` with small limits, all running at once: every one starts and
//     completes; the daemon's RSS and open fds at rest, at the peak (all running) and after;
//     daemon memory per running job (targets: ≤ 100 KB per idle job, daemon ≤ 250 MB at 1000).
//  2. One job writing <logMB> MB to stdout, followed live by `rnx job log` over mTLS: byte-exact
//     (sha256) and MB/s end to end (target ≥ 200 MB/s).
//  3. <fanJobs> jobs writing <fanMB> MB each, each followed by 3 GetJobLogs streams at once (on
//     3 mTLS connections; 3 × <fanJobs> rnx processes would measure process starts on 2 cores):
//     every follower byte-exact; the daemon's peak RSS.
// Run: ./node_modules/.bin/bun test/bench/scale.ts [--jobs=1000] [--secs=30] [--logMB=1024] [--fanJobs=100] [--fanMB=10]
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { JobServiceClient } from "../../src/gen/joblet";
import { call, isError, jobClient, jobEnded, runRequest } from "../helpers/client";
import { startDaemon } from "../helpers/daemon";
import { numberArg, reportFigures } from "../helpers/bench-report";
import { followLog, followStream, shaOfMb, writeMb } from "../helpers/follow";

const JOBS = numberArg("jobs", 1000);
const SECS = numberArg("secs", 30);
const LOG_MB = numberArg("logMB", 1024);
const FAN_JOBS = numberArg("fanJobs", 100);
const FAN_MB = numberArg("fanMB", 10);

/** A /proc/<pid>/status figure in kB; 0 once the process is gone (the run then reports it). */
function statusKb(pid: number, key: string): number {
  try {
    return Number(/(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${key}:`)) ?? "")?.[1] ?? 0);
  } catch {
    return 0;
  }
}
const fds = (pid: number) => (existsSync(`/proc/${pid}/fd`) ? readdirSync(`/proc/${pid}/fd`).length : 0);
const mb = (kb: number) => (kb / 1024).toFixed(1);
const row = (name: string, value: string, note = "") => console.log(`${name.padEnd(58)} ${value.padStart(14)}  ${note}`);

async function run(client: JobServiceClient, command: string, args: string[], extra = {}): Promise<string> {
  const r = await call(client.runJob, client, runRequest({ command, args, ...extra }));
  if (isError(r)) throw new Error(r.details);
  return r.jobUuid;
}

const d = await startDaemon({
  config: {
    logging: { level: "info" },
    joblet: { maxConcurrentJobs: Math.max(JOBS, FAN_JOBS) + 16, maxQueuedJobs: 10_000, maxLogSize: `${Math.max(LOG_MB, FAN_MB) * 2}MB` },
  },
});
const client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
let followers: JobServiceClient[] = [];
let failures = 0;
try {
  // warm up (first job loads the sandbox template, the netns pool fills)
  await jobEnded(client, await run(client, "true", []));
  const restKb = statusKb(d.pid, "VmRSS");
  const restFds = fds(d.pid);

  // 1. many at once
  const t0 = performance.now();
  const uuids = await Promise.all(Array.from({ length: JOBS }, () => run(client, "sleep", [String(SECS)], { maxMemory: 16, maxPids: 8 })));
  const submitted = performance.now() - t0;
  let peakKb = 0;
  let peakFds = 0;
  let running = 0;
  const sampler = setInterval(() => {
    peakKb = Math.max(peakKb, statusKb(d.pid, "VmRSS"));
    peakFds = Math.max(peakFds, fds(d.pid));
  }, 200);
  // all running at once: count them while they sleep
  for (;;) {
    const r = await call(client.listJobs, client, {});
    if (isError(r)) throw new Error(r.details);
    running = r.jobs.filter((j) => uuids.includes(j.uuid) && j.status === "RUNNING").length;
    if (running === JOBS || performance.now() - t0 > SECS * 1000) break;
    await Bun.sleep(500);
  }
  const allRunningKb = statusKb(d.pid, "VmRSS");
  const allRunningFds = fds(d.pid);
  const ends = await Promise.all(uuids.map((u) => jobEnded(client, u)));
  clearInterval(sampler);
  const completed = ends.filter((s) => s.status === "COMPLETED").length;
  failures += JOBS - completed;
  await Bun.sleep(1000);
  const afterKb = statusKb(d.pid, "VmRSS");
  const afterFds = fds(d.pid);

  // 2. one big log, followed live
  const bigSha = shaOfMb(LOG_MB, "a");
  const [bc, ...ba] = writeMb(LOG_MB, "a");
  const big = await run(client, bc!, ba);
  const f0 = performance.now();
  const got = await followLog(d.clients.admin, big);
  const followMs = performance.now() - f0;
  const bigOk = got.sha === bigSha && got.bytes === LOG_MB * 1024 * 1024;
  if (!bigOk) failures++;
  await jobEnded(client, big);

  // 3. many logs, three followers each
  let fanPeakKb = 0;
  const fanSampler = setInterval(() => (fanPeakKb = Math.max(fanPeakKb, statusKb(d.pid, "VmRSS"))), 100);
  const fanSha = shaOfMb(FAN_MB, "b");
  followers = [0, 1, 2].map(() => jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin));
  const [fc, ...fa] = writeMb(FAN_MB, "b");
  const g0 = performance.now();
  const fan = await Promise.all(Array.from({ length: FAN_JOBS }, () => run(client, fc!, fa)));
  const results = await Promise.all(fan.flatMap((u) => followers.map((f) => followStream(f, u))));
  const fanMs = performance.now() - g0;
  clearInterval(fanSampler);
  const fanBad = results.filter((r) => r.sha !== fanSha).length;
  failures += fanBad;

  const perJobKb = (allRunningKb - restKb) / Math.max(running, 1);
  console.log(`\nscale: ${JOBS} × sleep ${SECS}s at once; one ${LOG_MB} MB log followed live; ${FAN_JOBS} × ${FAN_MB} MB logs with 3 followers each (rnx job log, mTLS, loopback)\n`);
  row("measure", "value", "target / note");
  row(`jobs submitted at once (all RunJobs answered in)`, `${(submitted / 1000).toFixed(1)} s`);
  row("jobs running at once (ListJobs)", `${running} of ${JOBS}`);
  row("jobs completed", `${completed} of ${JOBS}`);
  row("daemon RSS at rest / all running / peak / after", `${mb(restKb)} / ${mb(allRunningKb)} / ${mb(peakKb)} / ${mb(afterKb)} MB`, `≤ 250 MB at 1000 jobs: ${peakKb / 1024 <= 250 ? "met" : "NOT met"}`);
  row("daemon memory per running job", `${perJobKb.toFixed(0)} KB`, `≤ 100 KB: ${perJobKb <= 100 ? "met" : "NOT met"}`);
  row("daemon open fds at rest / all running / peak / after", `${restFds} / ${allRunningFds} / ${peakFds} / ${afterFds}`, `${((allRunningFds - restFds) / Math.max(running, 1)).toFixed(1)} per running job`);
  row(`one ${LOG_MB} MB log followed live, byte-exact`, bigOk ? "yes" : `NO (${got.bytes} bytes)`);
  row("  end to end (job writes → rnx prints)", `${(LOG_MB / (followMs / 1000)).toFixed(0)} MB/s`, `≥ 200 MB/s: ${LOG_MB / (followMs / 1000) >= 200 ? "met" : "NOT met"}`);
  row(`${FAN_JOBS} × ${FAN_MB} MB, 3 stream followers each, byte-exact`, `${results.length - fanBad} of ${results.length}`, `${((FAN_JOBS * FAN_MB * 3) / (fanMs / 1000)).toFixed(0)} MB/s delivered in total`);
  row("  daemon peak RSS meanwhile", `${mb(fanPeakKb)} MB`);
  console.log(`\n${failures === 0 ? "no failures" : `${failures} FAILURES`}`);
  reportFigures("scale", { jobs: JOBS, running, completed, peakRssMb: peakKb / 1024, perJobKb, fdsPerJob: (allRunningFds - restFds) / Math.max(running, 1), followMBs: LOG_MB / (followMs / 1000), fanExact: results.length - fanBad, fanTotal: results.length, failures });
} catch (e) {
  failures++;
  console.log(`\nstopped by: ${(e as Error).message}`);
  if (!existsSync(`/proc/${d.pid}`)) console.log(`the daemon DIED (exit ${await d.exited}); its log's last lines:\n${d.output().split("\n").slice(-30).join("\n")}`);
} finally {
  client.close();
  for (const f of followers) f.close();
  await d.stop();
}
process.exitCode = failures === 0 ? 0 : 1;
