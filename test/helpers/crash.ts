// The daemon SIGKILLed in the middle of work, then started again on the same state (issue 7):
// what the durable-state promise says must hold, counted. Shared by test/e2e/crash.test.ts
// (reduced) and test/bench/crash.ts (1000 jobs, 1 GiB).
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobServiceClient } from "../../src/gen/joblet";
import { call, isError, jobClient, jobEnded, readLogs, runRequest, statusOf } from "./client";
import { durable, startDaemon, type TestDaemon } from "./daemon";
import { makePki } from "./pki";
import { until } from "./wait";

export interface CrashCounts {
  jobs: number;
  /** RUNNING when the daemon was killed (ListJobs) */
  runningAtKill: number;
  /** FAILED with DAEMON_RESTART after the restart */
  failedRestart: number;
  /** processes of the killed daemon's jobs still alive after the restart */
  leftoverProcesses: number;
  /** the killed daemon's job cgroups the new one removed at start */
  staleRemoved: number;
  /** a new job after the restart completed */
  newJobCompleted: boolean;
  restartMs: number;
}

/** Processes whose command line holds `marker`. */
const processesWith = (marker: string) => Bun.spawnSync(["pgrep", "-f", marker]).stdout.toString().trim().split("\n").filter(Boolean).length;

async function restart(root: string, pki: ReturnType<typeof makePki>, a: TestDaemon, config: ReturnType<typeof durable>): Promise<{ b: TestDaemon; ms: number }> {
  process.kill(a.pid, "SIGKILL");
  await a.exited;
  const t0 = performance.now();
  const b = await startDaemon({ pki, config: { ...config, server: { port: a.port } } });
  return { b, ms: performance.now() - t0 };
}

/** `count` sleeping jobs running, the daemon SIGKILLed, started again: what became of them. */
export async function killWithJobsRunning(count: number): Promise<CrashCounts> {
  const root = mkdtempSync(join(tmpdir(), "crash-jobs-"));
  const pki = makePki();
  const config = durable(root, { joblet: { maxConcurrentJobs: count + 16 }, logging: { level: "info" } });
  const marker = `crash-marker-${process.pid}-${count}`;
  const a = await startDaemon({ pki, config });
  let b: TestDaemon | undefined;
  let client = jobClient(a.address, pki.ca.cert, pki.clients.admin);
  try {
    const uuids = await Promise.all(
      Array.from({ length: count }, async () => {
        const r = await call(client.runJob, client, runRequest({ command: "sh", args: ["-c", `sleep 600; echo ${marker}`], maxMemory: 16, maxPids: 8 }));
        if (isError(r)) throw new Error(r.details);
        return r.jobUuid;
      }),
    );
    const listed = await call(client.listJobs, client, {});
    const runningAtKill = isError(listed) ? 0 : listed.jobs.filter((j) => j.status === "RUNNING").length;
    client.close();
    const r = await restart(root, pki, a, config);
    b = r.b;
    client = jobClient(b.address, pki.ca.cert, pki.clients.admin);
    let failedRestart = 0;
    for (const u of uuids) if ((await statusOf(client, u)).failureReason === "DAEMON_RESTART") failedRestart++;
    await until("the killed daemon's jobs to be gone", () => processesWith(marker) === 0, 30_000).catch(() => undefined);
    const next = await call(client.runJob, client, runRequest({ command: "true" }));
    const newJobCompleted = !isError(next) && (await jobEnded(client, next.jobUuid)).status === "COMPLETED";
    const staleRemoved = Number(/staleRemoved=(\d+)/.exec(b.output())?.[1] ?? 0);
    return { jobs: count, runningAtKill, failedRestart, leftoverProcesses: processesWith(marker), staleRemoved, newJobCompleted, restartMs: r.ms };
  } finally {
    client.close();
    await b?.stop();
    await a.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

export interface LogCrash {
  /** bytes the job had written when the daemon was killed (the log's size then) */
  atKill: number;
  /** the log after the restart: its size, and whether it is a prefix of what the job writes */
  after: number;
  prefix: boolean;
  status: string;
  reason: string;
}

/** A job writing `mb` MB of "a" to stdout; the daemon SIGKILLed once `killAtMb` MB are in the log. */
export async function killWhileLogging(mb: number, killAtMb: number): Promise<LogCrash> {
  const root = mkdtempSync(join(tmpdir(), "crash-log-"));
  const pki = makePki();
  const config = durable(root, { joblet: { maxLogSize: `${mb * 2}MB` } });
  const a = await startDaemon({ pki, config });
  let b: TestDaemon | undefined;
  let client: JobServiceClient = jobClient(a.address, pki.ca.cert, pki.clients.admin);
  try {
    // it stays running once written, so the kill finds it running even if the write was quick
    const r = await call(client.runJob, client, runRequest({ command: "sh", args: ["-c", `head -c ${mb * 1024 * 1024} /dev/zero | tr '\\0' a; sleep 600`] }));
    if (isError(r)) throw new Error(r.details);
    const logFile = join(root, "logs", `${r.jobUuid}.log`);
    const size = () => statSync(logFile, { throwIfNoEntry: false })?.size ?? 0;
    await until(`${killAtMb} MB in the log`, () => size() >= killAtMb * 1024 * 1024, 60_000);
    const atKill = size();
    client.close();
    b = (await restart(root, pki, a, config)).b;
    client = jobClient(b.address, pki.ca.cert, pki.clients.admin);
    const s = await statusOf(client, r.jobUuid);
    const log = await readLogs(client, r.jobUuid);
    const block = Buffer.alloc(1024 * 1024, "a");
    let prefix = log.length <= mb * 1024 * 1024;
    for (let at = 0; prefix && at < log.length; at += block.length) prefix = log.subarray(at, at + block.length).equals(block.subarray(0, Math.min(block.length, log.length - at)));
    return { atKill, after: log.length, prefix, status: s.status, reason: s.failureReason };
  } finally {
    client.close();
    await b?.stop();
    await a.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
