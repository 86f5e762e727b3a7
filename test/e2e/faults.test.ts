// Hostile jobs do not hurt the daemon or other jobs: one fills its /tmp, one fills the
// workspace disk (a small tmpfs as filesystem.baseDir), one closes stdout and stderr and keeps
// running, one ignores SIGTERM, one forks until its pids limit, one writes output as fast as it
// can (past joblet.maxLogSize, with a follower reading every byte) — all at once, while a
// bystander job runs beside them. The bystander ends with its exact output, the daemon keeps
// answering and starting jobs meanwhile, each hostile job ends as it should, and once every job
// is deleted nothing is left (test/helpers/leaks.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GetJobStatusResponse, JobServiceClient, RunJobRequest } from "../../src/gen/joblet";
import { call, isError, jobClient, jobEnded, readLogs, runRequest, statusOf } from "../helpers/client";
import { startDaemon, type TestDaemon } from "../helpers/daemon";
import { describeGrowth, leftAfterExit, scopeOf, settle, snapshot, type LeakScope, type Snapshot } from "../helpers/leaks";
import { until } from "../helpers/wait";
import { warmUp } from "../bench/soak";

const work = mkdtempSync(join(tmpdir(), "faults-test-"));
const WORKSPACE_DISK = 16 * 1024 * 1024;
const MAX_LOG = 4 * 1024 * 1024;
const PIDS = 24;
let mounted: string | undefined;
let d: TestDaemon | undefined;
let client: JobServiceClient;
let scope: LeakScope;
let baseline: Snapshot;

beforeAll(async () => {
  // the workspaces on a disk of their own, small enough to fill
  const disk = join(work, "workspaces");
  mkdirSync(disk);
  const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${WORKSPACE_DISK},mode=0700`, "tmpfs", disk]);
  if (m.exitCode !== 0) throw new Error(`mount tmpfs: ${m.stderr.toString()}`);
  mounted = disk;
  d = await startDaemon({ config: { filesystem: { baseDir: disk }, joblet: { cleanupTimeout: "1s", maxLogSize: `${MAX_LOG}` } } });
  client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
  scope = scopeOf(d);
  baseline = await warmUp(client, scope);
});
afterAll(async () => {
  client?.close();
  const code = await d?.stop();
  const left = baseline ? leftAfterExit(scope, baseline) : [];
  if (mounted) Bun.spawnSync(["umount", mounted]);
  rmSync(work, { recursive: true, force: true });
  expect(code ?? 0).toBe(0);
  expect(left).toEqual([]); // its cgroup directories went with it
});

async function start(r: Partial<RunJobRequest>): Promise<string> {
  const res = await call(client.runJob, client, runRequest(r));
  if (isError(res)) throw new Error(`RunJob ${r.command}: ${res.details}`);
  return res.jobUuid;
}

/** The log's text up to now (the job may still be running). */
async function logSoFar(uuid: string): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const s = client.getJobLogs({ uuid });
    const done = setTimeout(() => s.cancel(), 300);
    s.on("data", (c: { payload: Buffer }) => (text += c.payload.toString()));
    s.on("error", () => (clearTimeout(done), resolve(text)));
    s.on("end", () => (clearTimeout(done), resolve(text)));
  });
}

async function stop(uuid: string): Promise<GetJobStatusResponse> {
  const r = await call(client.stopJob, client, { uuid });
  if (isError(r)) throw new Error(`StopJob: ${r.details}`);
  return jobEnded(client, uuid);
}

/** "max N" of the job's pids cgroup (v1 or v2): how often a fork was refused at the limit. */
function pidsRefused(uuid: string): number {
  let n = 0;
  for (const dir of snapshot(scope).cgroups.filter((c) => c.endsWith(`job-${uuid}`))) {
    try {
      n = Math.max(n, Number(/^max (\d+)$/m.exec(readFileSync(join(dir, "pids.events"), "utf8"))?.[1] ?? 0));
    } catch {
      // not a pids hierarchy
    }
  }
  return n;
}

describe("hostile jobs beside a bystander", () => {
  test("fill /tmp, fill the workspace disk, close stdout early, ignore SIGTERM, fork to the limit, write flat out: the bystander, the daemon and the next jobs are unaffected, nothing leaks", async () => {
    // the bystander ticks until the test puts a file into its workspace
    const bystander = await start({ command: "sh", args: ["-c", 'i=0; until [ -e /work/release ]; do echo "tick $i"; i=$((i+1)); sleep 0.05; done; echo "released after $i"'] });
    const [tmpFill, workFill, closer, deaf, forker, flood] = await Promise.all([
      start({ command: "sh", args: ["-c", "if head -c 100m /dev/zero > /tmp/fill; then echo wrote it all; else echo refused; fi; wc -c < /tmp/fill"] }),
      // fills the disk and holds it full until stopped
      start({ command: "sh", args: ["-c", "if head -c 100m /dev/zero > /work/fill; then echo wrote it all; else echo refused; fi; echo holding; exec sleep 600"] }),
      start({ command: "sh", args: ["-c", "echo before; exec >&- 2>&-; sleep 1; echo gone; exit 7"] }),
      start({ command: "sh", args: ["-c", "trap 'echo ignored TERM' TERM; echo ready; while :; do sleep 0.1; done"] }),
      // the bomb in a subshell, forked first thing: the job's main process then needs no fork of its
      // own (a shell whose fork fails at the limit exits, and the job would end before the check)
      start({ command: "sh", args: ["-c", "(f() { f | f & }; f) & exec sleep 600"], maxPids: PIDS }),
      start({ command: "yes", args: ["hostile"] }),
    ]);
    // a follower reads every byte the flood writes, as it is written
    const flooded = readLogs(client, flood);

    // the damage is done: the disk is full, the fork bomb hit its limit, the flood hit maxLogSize
    await until("the workspace disk full", async () => (await logSoFar(workFill)).includes("holding"), 30_000);
    await until("the fork bomb at its pids limit", () => pidsRefused(forker) > 0, 30_000);
    await until("the flood past maxLogSize", async () => (await statusOf(client, flood)).warning !== "", 30_000);
    await until("the deaf job ready", async () => (await logSoFar(deaf)).includes("ready"), 30_000);
    expect(await logSoFar(workFill)).toMatch(/No space left on device\nrefused\nholding\n$/);
    const bomb = snapshot(scope).cgroups.find((c) => c.includes("/pids/") && c.endsWith(`job-${forker}`));
    expect(bomb).toBeDefined();
    expect(Number(readFileSync(join(bomb!, "pids.current"), "utf8"))).toBeLessThanOrEqual(PIDS);

    // meanwhile the daemon answers and runs new jobs
    const list = await call(client.listJobs, client, {});
    expect(isError(list) ? list.details : list.jobs.length).toBe(7);
    const probe = await start({ command: "echo", args: ["still serving"] });
    expect(await jobEnded(client, probe)).toMatchObject({ status: "COMPLETED", exitCode: 0 });
    expect((await readLogs(client, probe)).toString()).toBe("still serving\n");
    // a job that needs room on the full disk fails to start, precisely, and hurts nothing
    const needsRoom = await call(client.runJob, client, runRequest({ command: "cat", args: ["big"], uploads: [{ path: "big", content: Buffer.alloc(256 * 1024, 1), mode: 0o644, isDirectory: false }] }));
    if (isError(needsRoom)) throw new Error(needsRoom.details);
    expect(await jobEnded(client, needsRoom.jobUuid)).toMatchObject({ status: "FAILED", failureReason: "SETUP_FAILED", failureMessage: expect.stringMatching(/ENOSPC|no space/i) });
    expect((await statusOf(client, bystander)).status).toBe("RUNNING");

    // /tmp: the job saw ENOSPC at its 64 MB tmpfs and went on to the end
    expect(await jobEnded(client, tmpFill)).toMatchObject({ status: "COMPLETED", exitCode: 0 });
    expect((await readLogs(client, tmpFill)).toString()).toMatch(/No space left on device\nrefused\n67108864\n$/);
    // stdout and stderr closed early: it ran on to its own exit code, its early output kept
    expect(await jobEnded(client, closer)).toMatchObject({ status: "FAILED", exitCode: 7 });
    expect((await readLogs(client, closer)).toString()).toBe("before\n");
    // SIGTERM ignored: stop still ends it (SIGKILL after joblet.cleanupTimeout), STOPPED
    expect(await stop(deaf)).toMatchObject({ status: "STOPPED", exitCode: 137 });
    expect((await readLogs(client, deaf)).toString()).toMatch(/^ready\n(Terminated\n)?ignored TERM\n$/);
    // the fork bomb and the disk filler end when stopped
    expect((await stop(forker)).status).toBe("STOPPED");
    expect((await stop(workFill)).status).toBe("STOPPED");
    // the flood: its log holds exactly maxLogSize bytes of its output and the closing note
    expect((await stop(flood)).warning).toContain("output exceeded joblet.maxLogSize");
    const flood1 = await flooded;
    const note = `\n[joblet: output exceeded ${MAX_LOG} bytes; the rest was discarded]\n`;
    expect(flood1.length).toBe(MAX_LOG + note.length);
    expect(flood1.subarray(0, MAX_LOG).equals(Buffer.from("hostile\n".repeat(MAX_LOG / 8)))).toBe(true);
    expect(flood1.subarray(MAX_LOG).toString()).toBe(note);

    // the bystander, released, ends with its exact output
    writeFileSync(join(scope.baseDir, bystander, "work", "release"), "");
    expect(await jobEnded(client, bystander)).toMatchObject({ status: "COMPLETED", exitCode: 0 });
    const lines = (await readLogs(client, bystander)).toString().split("\n");
    expect(lines.pop()).toBe("");
    const n = Number(/^released after (\d+)$/.exec(lines.pop() ?? "")?.[1]);
    expect(n).toBeGreaterThan(0);
    expect(lines).toEqual(Array.from({ length: n }, (_, i) => `tick ${i}`));

    // the disk is free again: a job with uploads runs
    const after = await start({ command: "cat", args: ["data"], uploads: [{ path: "data", content: Buffer.from("room again\n"), mode: 0o644, isDirectory: false }] });
    expect(await jobEnded(client, after)).toMatchObject({ status: "COMPLETED" });
    expect((await readLogs(client, after)).toString()).toBe("room again\n");

    // nothing left once the jobs are deleted
    const del = await call(client.deleteAllJobs, client, {});
    expect(isError(del) ? del.details : del.skippedCount).toBe(0);
    const { growth } = await settle(scope, baseline, { timeoutMs: 20_000 });
    expect(describeGrowth(growth)).toBe("");
  }, 90_000);
});

/** Stops a daemon; one that does not stop within `ms` is SIGKILLed, and a daemon on the same
 * port removes the cgroups its jobs left (their processes died with its lifeline). */
async function stopOrKill(daemon: TestDaemon, ms: number): Promise<void> {
  const stopped = daemon.stop();
  if (await Promise.race([stopped.then(() => true), Bun.sleep(ms).then(() => false)])) return;
  process.kill(daemon.pid, "SIGKILL");
  await stopped;
  const cleaner = await startDaemon({ config: { server: { port: daemon.port } } });
  await cleaner.stop();
}

describe("while jobs are being set up (INITIALIZING)", () => {
  // a 1 ms grace period ends before a start does (a start takes milliseconds: cgroups, the sandbox)
  let d2: TestDaemon | undefined;
  let c2: JobServiceClient;
  beforeAll(async () => {
    d2 = await startDaemon({ config: { joblet: { cleanupTimeout: "1ms" } } });
    c2 = jobClient(d2.address, d2.pki.ca.cert, d2.pki.clients.admin);
  });
  afterAll(async () => {
    c2?.close();
    if (d2) await stopOrKill(d2, 20_000);
  });

  /** Submits `n` jobs at once and calls `early` with each the moment ListJobs shows it
   * INITIALIZING; returns the uuids of all of them, and how many were caught early. */
  async function burst(n: number, req: Partial<RunJobRequest>, early: (uuid: string) => void): Promise<{ uuids: string[]; caught: number }> {
    const runs = Array.from({ length: n }, () => call(c2.runJob, c2, runRequest(req)));
    let answered = false;
    void Promise.all(runs).then(() => (answered = true));
    const caught = new Set<string>();
    while (!answered) {
      const l = await call(c2.listJobs, c2, {});
      if (isError(l)) throw new Error(l.details);
      for (const j of l.jobs) {
        if (caught.has(j.uuid) || j.status !== "INITIALIZING") continue;
        caught.add(j.uuid);
        early(j.uuid);
      }
    }
    const uuids = (await Promise.all(runs)).map((r) => {
      if (isError(r)) throw new Error(r.details);
      return r.jobUuid;
    });
    return { uuids, caught: caught.size };
  }

  test("a job stopped while it is being set up still gets SIGKILL when the grace period ran out before its process existed", async () => {
    const stops = new Map<string, Promise<unknown>>();
    const stop = (uuid: string) => stops.set(uuid, call(c2.stopJob, c2, { uuid }));
    const { uuids, caught } = await burst(40, { command: "sh", args: ["-c", "trap '' TERM; echo up; while :; do sleep 1; done"] }, stop);
    for (const uuid of uuids) if (!stops.has(uuid)) stop(uuid); // started before it was seen
    expect(caught).toBeGreaterThan(0);
    // the jobs ignore SIGTERM and never end by themselves: only SIGKILL ends them
    let answered = 0;
    const answers = [...stops.values()].map((p) => p.then((r) => (answered++, r)));
    await until(`every stop answered (${caught} asked during setup)`, () => answered === uuids.length, 30_000);
    for (const r of await Promise.all(answers)) expect(isError(r) ? r : (r as { status: string }).status).toBe("STOPPED");
    expect(isError(await call(c2.deleteAllJobs, c2, {}))).toBe(false);
  }, 60_000);

  test("a job's log followed while it is being set up gives every byte (not NOT_FOUND, not an empty log)", async () => {
    const follows = new Map<string, Promise<string>>();
    const follow = (uuid: string) =>
      follows.set(
        uuid,
        readLogs(c2, uuid).then(
          (b) => b.toString(),
          (e: { code: number; details: string }) => `error ${e.code}: ${e.details}`,
        ),
      );
    // a few bursts: a follower must come between the job's record and its log file's creation
    for (let round = 0; round < 3; round++) {
      follows.clear();
      const { uuids, caught } = await burst(40, { command: "sh", args: ["-c", 'echo "hello from $JOBLET_JOB_ID"'] }, follow);
      expect(caught).toBeGreaterThan(0);
      for (const uuid of uuids) if (!follows.has(uuid)) follow(uuid);
      const got = await Promise.all([...follows].map(async ([uuid, p]) => ({ uuid, log: await p })));
      expect(got.filter((g) => g.log !== `hello from ${g.uuid}\n`)).toEqual([]);
      expect(isError(await call(c2.deleteAllJobs, c2, {}))).toBe(false);
    }
  }, 60_000);
});
