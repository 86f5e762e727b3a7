// Durable state and output (issue 5): restarts after SIGTERM and SIGKILL keep every job and every
// byte of output, history replays, retention, live-only logs, a full disk, a corrupt database.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobServiceClient } from "../../src/gen/joblet";
import { call, isError, jobClient, jobEnded, readLogs, startJob, statusOf } from "../helpers/client";
import { until } from "../helpers/wait";
import { durable, startDaemon, type TestDaemon } from "../helpers/daemon";
import { makePki } from "../helpers/pki";
import { rnx } from "../helpers/run";

const work = mkdtempSync(join(tmpdir(), "persistence-test-"));
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) Bun.spawnSync(["umount", m]);
  rmSync(work, { recursive: true, force: true });
});

function smallTmpfs(name: string, size: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir]);
  if (r.exitCode !== 0) throw new Error(`mount tmpfs: ${r.stderr.toString()}`);
  mounts.push(dir);
  return dir;
}

describe("disk full", () => {
  test("the job keeps running and completes, its status warns, the daemon logs it once, and keeps serving", async () => {
    const logs = smallTmpfs("full", "64k");
    const d = await startDaemon({ config: { persist: { storage: { local: { logs: { directory: logs }, metrics: { directory: join(work, "metrics") } } } } } });
    const client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
    try {
      // 1 MB of output into 64 kB of disk, then proof of life after the disk filled up
      const uuid = await startJob(client, "sh", ["-c", "head -c 1048576 /dev/zero | tr '\\0' x; echo; echo still-running > /work/alive; cat /work/alive; exit 3"]);
      const s = await jobEnded(client, uuid);
      expect({ status: s.status, exitCode: s.exitCode }).toEqual({ status: "FAILED", exitCode: 3 }); // its own code: it ran to the end
      expect(s.warning).toMatch(/the log could not be written \(no space left on device\)/i);
      const log = await readLogs(client, uuid);
      expect(log.length).toBeGreaterThan(32 * 1024); // what fit is kept
      expect(log.length).toBeLessThanOrEqual(64 * 1024);
      expect(d.output().match(/job log write failed/g)?.length).toBe(1);
      // the daemon still serves: list, and after deleting the job (freeing the disk) a new job logs fine
      const list = await call(client.listJobs, client, {});
      expect(isError(list) ? list : list.jobs.length).toBe(1);
      expect(isError(await call(client.deleteJob, client, { uuid }))).toBe(false);
      const next = await startJob(client, "echo", ["fine"]);
      expect(await jobEnded(client, next)).toMatchObject({ status: "COMPLETED", warning: "" });
      expect((await readLogs(client, next)).toString()).toBe("fine\n");
    } finally {
      client.close();
      await d.stop();
    }
  });
});

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
describe("restart", () => {
  test("after SIGTERM: every job, its state and its log are back; history replays through rnx", async () => {
    const root = join(work, "sigterm");
    const pki = makePki();
    const a = await startDaemon({ pki, config: durable(root) });
    let client = jobClient(a.address, pki.ca.cert, pki.clients.admin);
    let b: TestDaemon | undefined;
    try {
      const done = await startJob(client, "sh", ["-c", "seq 1 20000; echo 'ünïcode ✓'; exit 4"]);
      const running = await startJob(client, "sh", ["-c", "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.01; done"]);
      const before = await jobEnded(client, done);
      await until("output of the running job", async () => (await readLogsUntil(client, running, 50)) >= 50, 20_000);
      client.close();
      expect(await a.stop()).toBe(0);

      b = await startDaemon({ pki, config: durable(root, { server: { port: a.port } }) });
      client = jobClient(b.address, pki.ca.cert, pki.clients.admin);
      const after = await statusOf(client, done);
      expect(after).toEqual(before);
      const stopped = await statusOf(client, running);
      expect({ status: stopped.status, reason: stopped.failureReason }).toEqual({ status: "FAILED", reason: "DAEMON_SHUTDOWN" });
      const log = await readLogs(client, done);
      expect(log.toString()).toBe(`${Array.from({ length: 20000 }, (_, i) => i + 1).join("\n")}\nünïcode ✓\n`);
      // the running job's lines are whole and consecutive up to the stop
      const lines = (await readLogs(client, running)).toString().split("\n");
      expect(lines.pop()).toBe("");
      expect(lines.length).toBeGreaterThanOrEqual(50);
      lines.forEach((l, i) => expect(l).toBe(`line ${i}`));
      // rnx reads the history too, byte for byte
      const viaRnx = rnx(["--config", b.clients.admin, "job", "log", done]);
      expect(sha(Buffer.from(viaRnx.stdout))).toBe(sha(log));
      const list = rnx(["--config", b.clients.admin, "job", "list", "--json"]);
      expect((JSON.parse(list.stdout) as { id: string }[]).map((j) => j.id).sort()).toEqual([done, running].sort());
    } finally {
      client.close();
      await b?.stop();
      await a.stop();
    }
  }, 60_000);

  test("after SIGKILL with 50 jobs running: each ends FAILED DAEMON_RESTART with every byte it wrote, nothing is left behind", async () => {
    const root = join(work, "sigkill");
    const pki = makePki();
    const config = durable(root, { filesystem: { workspace: { preserve_on_failure: true } } });
    const a = await startDaemon({ pki, config });
    let client = jobClient(a.address, pki.ca.cert, pki.clients.admin);
    let b: TestDaemon | undefined;
    const marker = `persist-${process.pid}`;
    try {
      const finished = await startJob(client, "echo", ["finished before the kill"]);
      await jobEnded(client, finished);
      // each line goes to stdout first, then to a file in the workspace: the file is a lower
      // bound of what the job wrote, the log must hold all of it
      const script = `i=0; while :; do echo "$JOBLET_JOB_ID $i ${marker}"; echo "$JOBLET_JOB_ID $i ${marker}" >> /work/written; i=$((i+1)); sleep 0.02; done`;
      const uuids = await Promise.all(Array.from({ length: 50 }, () => startJob(client, "sh", ["-c", script])));
      await until("every job writing", () => uuids.every((u) => existsSync(join(root, "jobs", u, "work", "written"))), 30_000);
      await Bun.sleep(300);
      process.kill(a.pid, "SIGKILL");
      await a.exited;
      client.close();

      b = await startDaemon({ pki, config: { ...config, server: { port: a.port } } });
      client = jobClient(b.address, pki.ca.cert, pki.clients.admin);
      expect(b.output()).toMatch(/recovered from the previous run.*failed=50/);
      expect((await statusOf(client, finished)).status).toBe("COMPLETED");
      for (const uuid of uuids) {
        const s = await statusOf(client, uuid);
        expect({ status: s.status, reason: s.failureReason }).toEqual({ status: "FAILED", reason: "DAEMON_RESTART" });
        const written = readFileSync(join(root, "jobs", uuid, "work", "written"), "utf8");
        const log = (await readLogs(client, uuid)).toString();
        expect(written.length).toBeGreaterThan(0);
        expect(log.startsWith(written)).toBe(true);
        expect(log.slice(written.length).split("\n").length).toBeLessThanOrEqual(2); // at most the line in flight
      }
      // no process of any job survived, and the new daemon removed the old cgroups
      const ps = Bun.spawnSync(["pgrep", "-f", marker]).stdout.toString().trim();
      expect(ps).toBe("");
      expect(b.output()).toMatch(/staleRemoved=([1-9]\d*)/);
      // the new daemon runs jobs as usual
      const next = await startJob(client, "echo", ["after restart"]);
      expect((await jobEnded(client, next)).status).toBe("COMPLETED");
    } finally {
      client.close();
      await b?.stop();
      await a.stop();
    }
  }, 120_000);

  test("a corrupt state database stops the daemon with the file and the way out, and is not touched", async () => {
    const root = join(work, "corrupt");
    mkdirSync(join(root, "state"), { recursive: true });
    const db = join(root, "state", "joblet.db");
    const garbage = Buffer.alloc(8192, "not a database ");
    writeFileSync(db, garbage);
    let failure = "";
    try {
      const d = await startDaemon({ config: durable(root) });
      await d.stop();
    } catch (e) {
      failure = (e as Error).message;
    }
    expect(failure).toContain("daemon did not start");
    expect(failure).toContain(db);
    expect(failure).toMatch(/mv |move|restore|backup/i);
    expect(sha(readFileSync(db))).toBe(sha(garbage));
  });
});

/** How many lines the job's log has now (reads the whole log so far). */
async function readLogsUntil(client: JobServiceClient, uuid: string, lines: number): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    const s = client.getJobLogs({ uuid });
    s.on("data", (c: { payload: Buffer }) => {
      n += c.payload.toString().split("\n").length - 1;
      if (n >= lines) s.cancel();
    });
    s.on("error", () => resolve(n));
    s.on("end", () => resolve(n));
  });
}

describe("history", () => {
  test("retention removes finished jobs beyond max_age, and the oldest beyond max_size", async () => {
    const root = join(work, "retention");
    const d = await startDaemon({ config: durable(root, { persist: { retention: { max_age: "3s", max_size: "3KB", interval: "1s" } } }) });
    const client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
    try {
      const running = await startJob(client, "sleep", ["30"]);
      const jobs: string[] = [];
      for (let i = 0; i < 3; i++) {
        jobs.push(await startJob(client, "sh", ["-c", `head -c 1200 /dev/zero | tr '\\0' ${i}`]));
        await jobEnded(client, jobs[i]!);
      }
      // 3 × 1200 B > 3 KB: the oldest goes at the next sweep, the two newest stay for now
      await until("the oldest job removed", async () => isError(await call(client.getJobStatus, client, { uuid: jobs[0]! })), 20_000);
      expect((await statusOf(client, jobs[1]!)).status).toBe("COMPLETED");
      expect(existsSync(join(root, "logs", `${jobs[0]}.log`))).toBe(false);
      // then age removes the rest; the running job is never swept
      await until("the old jobs removed", async () => isError(await call(client.getJobStatus, client, { uuid: jobs[2]! })), 15_000);
      expect((await statusOf(client, running)).status).toBe("RUNNING");
      expect(readdirSync(join(root, "logs"))).toEqual([`${running}.log`]);
    } finally {
      client.close();
      await d.stop();
    }
  }, 30_000);

  test("ipc.enabled: false keeps logs live only: followed while running, gone once the job ends", async () => {
    const root = join(work, "live-only");
    const d = await startDaemon({ config: durable(root, { ipc: { enabled: false } }) });
    const client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
    try {
      const uuid = await startJob(client, "sh", ["-c", "echo one; sleep 0.5; echo two"]);
      const live = await readLogs(client, uuid); // follows to the end
      expect(live.toString()).toBe("one\ntwo\n");
      await jobEnded(client, uuid);
      const after = await readLogs(client, uuid).catch((e: { code: number; details: string }) => e);
      expect(after).toMatchObject({ code: 5, details: expect.stringContaining("log history is off (ipc.enabled: false)") });
      expect(readdirSync(join(root, "logs"))).toEqual([]);
    } finally {
      client.close();
      await d.stop();
    }
  });
});
