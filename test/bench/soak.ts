// Soak benchmark: thousands of short jobs of every kind through one daemon, in sequence and in
// parallel bursts, with a snapshot of everything the daemon could leak (test/helpers/leaks.ts)
// before, every 1000 jobs, and after. Prints RSS / fds / cgroups / mounts / workspaces /
// processes over time and a verdict. Always exits 0 unless the daemon crashed (a benchmark, not
// a test); test/e2e/soak.test.ts runs a reduced version with assertions.
// Run: ./node_modules/.bin/bun test/bench/soak.ts [--jobs=10000] [--burst=100] [--every=1000] [--max=500]
// (--max: joblet.maxConcurrentJobs; below --burst, bursts go through the run queue)
//
// The mix (round robin): /bin/true; 64 KB of output; exit 3; killed by its timeout; stopped
// through StopJob; OOM-killed at a 16 MB limit; with uploads (a file and a script in a
// directory); a command that does not exist (exec fails in init); a working directory that does
// not exist (the sandbox setup fails before init). Each job's end is seen through its log stream
// (which follows the job to its end), then its status, exit code, reason and exact output are
// checked. Half of each block of jobs runs one at a time, the other half in bursts of --burst
// concurrent jobs.
//
// Every checkpoint deletes the block's jobs and waits (bounded) for the daemon to come back to
// the baseline, so each row compares like with like: no stored jobs. The baseline is taken after
// a warm-up of every job kind (sequential and a burst, then deleted): the first jobs grow things
// that stay by design (Bun's worker threads, the state database's second WAL handle, the JIT's
// code), and those are not leaks.
import type { JobServiceClient, RunJobRequest } from "../../src/gen/joblet";
import { call, isError, jobClient, readLogs, runRequest, statusOf } from "../helpers/client";
import { startDaemon, type TestDaemon } from "../helpers/daemon";
import { describeGrowth, diff, fdCount, scopeOf, settle, snapshot, type Growth, type LeakScope, type Snapshot } from "../helpers/leaks";
import { numberArg } from "../helpers/bench-report";

/** One kind of job and what it must end as. */
export interface JobKind {
  name: string;
  request: Partial<RunJobRequest>;
  status: string;
  /** undefined: not checked (a stopped job's code depends on the signal that got it) */
  exitCode?: number;
  reason?: string;
  /** its whole log */
  output: string;
  /** stopped through StopJob once it runs */
  stop?: boolean;
}

const upload = (path: string, text: string, mode: number, isDirectory = false) => ({ path, content: Buffer.from(text), mode, isDirectory });

export const MIX: JobKind[] = [
  { name: "true", request: { command: "/bin/true" }, status: "COMPLETED", exitCode: 0, output: "" },
  { name: "64KB", request: { command: "sh", args: ["-c", "head -c 65536 /dev/zero | tr '\\0' x"] }, status: "COMPLETED", exitCode: 0, output: "x".repeat(65536) },
  { name: "exit3", request: { command: "sh", args: ["-c", "echo failing; exit 3"] }, status: "FAILED", exitCode: 3, output: "failing\n" },
  { name: "timeout", request: { command: "sh", args: ["-c", "echo waiting; exec sleep 30"], timeout: "300ms" }, status: "FAILED", exitCode: 137, reason: "TIMEOUT", output: "waiting\n" },
  { name: "stopped", request: { command: "sleep", args: ["30"] }, status: "STOPPED", output: "", stop: true },
  { name: "oom", request: { command: "tail", args: ["/dev/zero"], maxMemory: 16 }, status: "FAILED", exitCode: 137, reason: "OOM_KILLED", output: "" },
  {
    name: "uploads",
    request: {
      command: "sh",
      args: ["-c", "cat data.txt && ./bin/run.sh"],
      uploads: [upload("data.txt", "uploaded data\n", 0o644), upload("bin", "", 0o755, true), upload("bin/run.sh", "#!/bin/sh\necho script ran in $PWD\n", 0o755)],
    },
    status: "COMPLETED",
    exitCode: 0,
    output: "uploaded data\nscript ran in /work\n",
  },
  // the failure paths: init reports that exec failed; the sandbox setup fails before init runs
  { name: "notfound", request: { command: "no-such-command" }, status: "FAILED", exitCode: 127, reason: "EXEC_FAILED", output: "" },
  { name: "badcwd", request: { command: "true", workDir: "/work/not/there" }, status: "FAILED", reason: "SETUP_FAILED", output: "" },
];

/** The daemon configuration the soak runs with: by default every job of a burst gets a slot at
 * once; a smaller `maxConcurrentJobs` sends bursts through the queue. */
export const soakConfig = (maxConcurrentJobs = 500) => ({
  joblet: { maxConcurrentJobs, maxQueuedJobs: 5000, cleanupTimeout: "2s" },
  logging: { level: "info" },
});
export const SOAK_CONFIG = soakConfig();

export interface JobResult {
  uuid?: string;
  kind: string;
  /** empty: as expected */
  problem?: string;
}

/** Runs one job of `kind` to its end and checks how it ended and what it wrote. */
export async function runKind(client: JobServiceClient, kind: JobKind): Promise<JobResult> {
  const r = await call(client.runJob, client, runRequest(kind.request));
  if (isError(r)) return { kind: kind.name, problem: `RunJob: ${r.code} ${r.details}` };
  const uuid = r.jobUuid;
  try {
    // queued (every joblet.maxConcurrentJobs slot taken): its log starts, and a stop stops it
    // rather than canceling it, once it has a slot
    for (let status = r.status; status === "PENDING"; status = (await statusOf(client, uuid)).status) await Bun.sleep(20);
    if (kind.stop) {
      const s = await call(client.stopJob, client, { uuid });
      if (isError(s)) return { uuid, kind: kind.name, problem: `StopJob: ${s.code} ${s.details}` };
    }
    const out = (await readLogs(client, uuid)).toString();
    const s = await statusOf(client, uuid);
    const got = { status: s.status, exitCode: kind.exitCode === undefined ? undefined : s.exitCode, reason: s.failureReason || undefined, output: out };
    const want = { status: kind.status, exitCode: kind.exitCode, reason: kind.reason, output: kind.output };
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      const short = (o: typeof got) => JSON.stringify({ ...o, output: o.output.length > 60 ? `${o.output.slice(0, 40)}… (${o.output.length} bytes)` : o.output });
      return { uuid, kind: kind.name, problem: `got ${short(got)}${s.failureMessage ? ` (${s.failureMessage})` : ""}, want ${short(want)}` };
    }
    return { uuid, kind: kind.name };
  } catch (e) {
    return { uuid, kind: kind.name, problem: (e as Error).message };
  }
}

/**
 * Runs `count` jobs of the mix starting at mix position `offset`: the first half one at a time,
 * the rest in bursts of `burst` concurrent jobs.
 */
export async function runBlock(client: JobServiceClient, count: number, burst: number, offset = 0): Promise<JobResult[]> {
  const kindAt = (i: number) => MIX[(offset + i) % MIX.length]!;
  const results: JobResult[] = [];
  const sequential = Math.floor(count / 2);
  for (let i = 0; i < sequential; i++) results.push(await runKind(client, kindAt(i)));
  for (let i = sequential; i < count; i += burst) {
    const n = Math.min(burst, count - i);
    results.push(...(await Promise.all(Array.from({ length: n }, (_, k) => runKind(client, kindAt(i + k))))));
  }
  return results;
}

/** Deletes jobs by uuid; the problems, if any. */
export async function deleteJobs(client: JobServiceClient, uuids: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 0; i < uuids.length; i += 50) {
    const rs = await Promise.all(uuids.slice(i, i + 50).map((uuid) => call(client.deleteJob, client, { uuid })));
    rs.forEach((r, k) => isError(r) && problems.push(`DeleteJob ${uuids[i + k]}: ${r.details}`));
  }
  return problems;
}

/** Two rounds of the mix, one at a time and as a burst, then deleted: what grows once, grows now. */
export async function warmUp(client: JobServiceClient, scope: LeakScope): Promise<Snapshot> {
  const results = [...(await runBlock(client, MIX.length * 2, MIX.length * 2)), ...(await runBlock(client, MIX.length * 4, MIX.length * 4))];
  const bad = results.filter((r) => r.problem);
  if (bad.length) throw new Error(`warm-up: ${bad.map((r) => `${r.kind}: ${r.problem}`).join("; ")}`);
  const del = await call(client.deleteAllJobs, client, {});
  if (isError(del)) throw new Error(`DeleteAllJobs: ${del.details}`);
  // nothing of a job left (its cgroups and workspace go just after its end is recorded), and a
  // moment for the network namespace pool to refill: the daemon at rest
  const deadline = Date.now() + 10_000;
  for (let s = snapshot(scope); s.cgroups.length + s.processes.length + s.children.length + s.workspaces.length + fdCount(s, "pidfd") > 0; s = snapshot(scope)) {
    if (Date.now() > deadline) break;
    await Bun.sleep(100);
  }
  await Bun.sleep(1000);
  return snapshot(scope);
}

// ---- the benchmark ---------------------------------------------------------------------------

/** RSS may grow by this much from the first checkpoint to the last (see the verdict). */
const RSS_PLATEAU_BOUND_KB = 16 * 1024;

interface Row {
  label: string;
  jobs: number;
  seconds: number;
  /** RSS with the block's jobs still stored, before they were deleted */
  rssStoredKb?: number;
  s: Snapshot;
  growth: Growth[];
}

async function main(): Promise<void> {
  const JOBS = numberArg("jobs", 10_000);
  const BURST = numberArg("burst", 100);
  const EVERY = numberArg("every", 1000);
  const MAX = numberArg("max", 500);
  let d: TestDaemon | undefined;
  let crashed: number | undefined;
  let stopping = false;
  const rows: Row[] = [];
  const problems: JobResult[] = [];
  const counts = new Map<string, number>();
  let baseline: Snapshot | undefined;
  const t0 = performance.now();
  try {
    d = await startDaemon({ config: soakConfig(MAX) });
    void d.exited.then((code) => {
      if (!stopping) crashed = code;
    });
    const client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
    const scope = scopeOf(d);
    const initial = snapshot(scope);
    rows.push({ label: "start", jobs: 0, seconds: 0, s: initial, growth: [] });
    baseline = await warmUp(client, scope);
    rows.push({ label: "baseline", jobs: 0, seconds: (performance.now() - t0) / 1000, s: baseline, growth: [] });
    let done = 0;
    while (done < JOBS && crashed === undefined) {
      const n = Math.min(EVERY, JOBS - done);
      const results = await runBlock(client, n, BURST, done);
      for (const r of results) {
        counts.set(r.kind, (counts.get(r.kind) ?? 0) + 1);
        if (r.problem) problems.push(r);
      }
      done += n;
      const rssStoredKb = snapshot(scope).rssKb;
      const last = done >= JOBS;
      if (last) {
        const del = await call(client.deleteAllJobs, client, {});
        if (isError(del)) problems.push({ kind: "delete", problem: del.details });
      } else {
        for (const p of await deleteJobs(client, results.flatMap((r) => (r.uuid ? [r.uuid] : [])))) problems.push({ kind: "delete", problem: p });
      }
      const { snapshot: s, growth } = await settle(scope, baseline, { timeoutMs: 15_000 });
      rows.push({ label: last ? "after" : `${done}`, jobs: done, seconds: (performance.now() - t0) / 1000, rssStoredKb, s, growth });
      console.error(`${done} jobs, ${((performance.now() - t0) / 1000).toFixed(0)} s, RSS ${(s.rssKb / 1024).toFixed(1)} MB${growth.length ? `, not back to the baseline: ${growth.map((g) => g.what).join(", ")}` : ""}`);
    }
    client.close();
  } finally {
    stopping = true;
    if (d) {
      const code = await d.stop();
      if (code !== 0 && crashed === undefined) crashed = code;
    }
  }
  report(rows, baseline, problems, counts, crashed, JOBS, BURST, MAX);
  if (crashed !== undefined) process.exit(1);
}

function report(rows: Row[], baseline: Snapshot | undefined, problems: JobResult[], counts: Map<string, number>, crashed: number | undefined, jobs: number, burst: number, max: number): void {
  const mb = (kb: number | undefined) => (kb === undefined ? "" : (kb / 1024).toFixed(1));
  const fdKinds = ["pipe", "socket", "pidfd", "netns", "file", "memfd", "inotify"] as const;
  const header = ["jobs", "time s", "RSS MB", "RSS stored MB", "threads", "fds", ...fdKinds.map((k) => `fd:${k}`), "cgroups", "mounts own", "mounts d/self", "workspaces", "tmp", "logs", "procs", "zombies"];
  const lines = rows.map((r) => [
    r.label,
    r.seconds.toFixed(0),
    mb(r.s.rssKb),
    mb(r.rssStoredKb),
    String(r.s.threads),
    String(fdCount(r.s)),
    ...fdKinds.map((k) => String(fdCount(r.s, k))),
    String(r.s.cgroups.length),
    String(r.s.mounts.length),
    `${r.s.mountsDaemon}/${r.s.mountsSelf}`,
    String(r.s.workspaces.length),
    String(r.s.tmpFiles.length),
    String(r.s.logFiles.length + r.s.metricFiles.length),
    String(r.s.processes.length),
    String(r.s.zombies.length),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(" | ")} |`;
  console.log(`\nSoak: ${jobs} jobs (${[...counts].map(([k, n]) => `${k} ${n}`).join(", ")}); per block half one at a time, half in bursts of ${burst}; joblet.maxConcurrentJobs ${max}\n`);
  console.log(fmt(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const l of lines) console.log(fmt(l));
  console.log(
    "\n(rows after a block: its jobs deleted and the daemon settled; 'RSS stored': before the delete. fds: all the daemon's; logs: log + metrics files;\n" +
      " mounts own: mounts the daemon or a job could have made (below its directories, a job's tmpfs, nsfs); d/self: all lines of its and this process's mountinfo, which other processes on the host change too)",
  );

  const verdict: string[] = [];
  if (crashed !== undefined) verdict.push(`FAIL: the daemon exited with ${crashed}`);
  if (problems.length) {
    verdict.push(`FAIL: ${problems.length} jobs did not end as expected, e.g.:`);
    for (const p of problems.slice(0, 10)) verdict.push(`  ${p.kind} ${p.uuid ?? ""}: ${p.problem}`);
  }
  const checkpoints = rows.filter((r) => r.jobs > 0);
  for (const r of checkpoints) if (r.growth.length) verdict.push(`FAIL at ${r.label}: not back to the baseline:\n${describeGrowth(r.growth).replace(/^/gm, "  ")}`);
  if (baseline && checkpoints.length) {
    const first = checkpoints[0]!;
    const last = checkpoints[checkpoints.length - 1]!;
    const plateau = last.s.rssKb - first.s.rssKb;
    const perJob = last.jobs > first.jobs ? (plateau * 1024) / (last.jobs - first.jobs) : 0;
    const ok = plateau <= RSS_PLATEAU_BOUND_KB;
    verdict.push(
      `${ok ? "ok" : "FAIL"}: RSS ${mb(baseline.rssKb)} MB at the baseline, ${mb(first.s.rssKb)} MB after the first block, ${mb(last.s.rssKb)} MB at the end: ` +
        `${plateau >= 0 ? "+" : ""}${mb(plateau)} MB over the last ${last.jobs - first.jobs} jobs (${perJob.toFixed(0)} B/job; bound ${mb(RSS_PLATEAU_BOUND_KB)} MB)`,
    );
    const exact = diff(baseline, last.s, { threadSlack: 0 });
    verdict.push(exact.length ? `FAIL: at the end, not back to the baseline:\n${describeGrowth(exact).replace(/^/gm, "  ")}` : "ok: fds (every kind), threads, cgroups, mounts, workspaces, tmp files, logs, job processes and zombies back to the baseline exactly");
  }
  if (!problems.length && crashed === undefined) verdict.push(`ok: all ${jobs} jobs ended as expected with their exact output`);
  console.log(`\nRSS bound: from the first checkpoint (${checkpoints[0]?.jobs ?? "-"} jobs: the heap has reached its working size, the allocator keeps freed pages) to the last, at most ${mb(RSS_PLATEAU_BOUND_KB)} MB,` +
    ` i.e. under ${Math.round((RSS_PLATEAU_BOUND_KB * 1024) / Math.max(1, jobs - (checkpoints[0]?.jobs ?? 0)))} bytes per job: a leak of one job record, its closures or its log stream per job would exceed it.`);
  console.log(`\nVerdict:\n${verdict.map((v) => `  ${v}`).join("\n")}`);
}

if (import.meta.main) {
  await main();
}
