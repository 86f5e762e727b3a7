// The scheduler (issue 6): jobs at a time (--schedule), recurring jobs (--cron), cancel, the
// joblet.maxConcurrentJobs queue and its bound, and scheduled, recurring and queued jobs
// surviving a SIGKILL of the daemon with their uploads and secrets.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GetJobStatusResponse, JobServiceClient, RunJobRequest } from "../../src/gen/joblet";
import { call, isError, jobClient, jobEnded, readLogs, runRequest, statusOf, type RpcError } from "../helpers/client";
import { durable, startDaemon, type TestDaemon } from "../helpers/daemon";
import { makePki } from "../helpers/pki";
import { rnx } from "../helpers/run";
import { until } from "../helpers/wait";

const work = mkdtempSync(join(tmpdir(), "scheduler-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const GRPC_INVALID = 3;
const GRPC_PRECONDITION = 9;
const GRPC_EXHAUSTED = 8;

async function submit(client: JobServiceClient, r: Partial<RunJobRequest>): Promise<string> {
  const res = await call(client.runJob, client, runRequest(r));
  if (isError(res)) throw new Error(res.details);
  return res.jobUuid;
}

function expectError(r: unknown, code: number, text: string): void {
  expect(isError(r)).toBe(true);
  expect((r as RpcError).code).toBe(code);
  expect((r as RpcError).details).toContain(text);
}

/** GetJobLogs' error for a job that has no log to give. */
async function logError(client: JobServiceClient, uuid: string): Promise<RpcError | undefined> {
  return readLogs(client, uuid).then(
    () => undefined,
    (e: RpcError) => ({ code: e.code, details: e.details }),
  );
}

const ms = (iso: string) => Date.parse(iso);
const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

/** The most jobs whose [start, end] intervals overlap at one instant (an end before a start at the same time). */
function maxOverlap(jobs: { startTime: string; endTime: string }[]): number {
  const events = jobs.flatMap((j) => [
    { t: ms(j.startTime), d: 1 },
    { t: ms(j.endTime), d: -1 },
  ]);
  events.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const e of events) max = Math.max(max, (now += e.d));
  return max;
}

async function listJobs(client: JobServiceClient) {
  const r = await call(client.listJobs, client, {});
  if (isError(r)) throw new Error(r.details);
  return r.jobs;
}

describe("scheduled jobs", () => {
  let d: TestDaemon;
  let client: JobServiceClient;
  const as = (...a: string[]) => rnx(["--config", d.clients.admin, ...a]);

  test("start", async () => {
    d = await startDaemon();
    client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
  });

  test("the server takes RFC 3339 only, refuses the past and bad cron expressions, each error naming the field", async () => {
    const run = (r: Partial<RunJobRequest>) => call(client.runJob, client, runRequest(r));
    expectError(await run({ schedule: "5min" }), GRPC_INVALID, 'schedule: "5min" is not an RFC 3339 time');
    expectError(await run({ schedule: "2030-01-01T10:00:00" }), GRPC_INVALID, "is not an RFC 3339 time"); // no zone
    expectError(await run({ schedule: "2030-02-30T10:00:00Z" }), GRPC_INVALID, "is not an RFC 3339 time");
    expectError(await run({ schedule: new Date(Date.now() - 120_000).toISOString() }), GRPC_INVALID, "in the past");
    expectError(await run({ schedule: new Date(Date.now() + 400 * 86_400_000).toISOString() }), GRPC_INVALID, "more than a year ahead");
    expectError(await run({ cron: "61 * * * *" }), GRPC_INVALID, 'cron: minute field "61" is out of range 0-59');
    expectError(await run({ cron: "0 0 30 2 *" }), GRPC_INVALID, "never matches");
    expectError(await run({ cron: "@daily", schedule: inSeconds(60) }), GRPC_INVALID, "schedule, cron: give one of them");
    expectError(await run({ allowOverlap: true }), GRPC_INVALID, "allow_overlap: applies only to a recurring job");
    // a time within the last minute (a slow client) runs at once
    const late = await submit(client, { command: "true", schedule: new Date(Date.now() - 5000).toISOString() });
    expect((await jobEnded(client, late)).status).toBe("COMPLETED");
    // rnx converts Joblet's forms, and explains what it accepts
    const bad = as("job", "run", "--schedule=tomorrow", "true");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--schedule: "tomorrow" is not a time; use a delay such as "30s"');
  });

  test("a job scheduled 3 s ahead waits SCHEDULED, then runs within a second of its time, with its uploads and secrets", async () => {
    const file = join(work, "payload.txt");
    writeFileSync(file, "uploaded-payload\n");
    const r = as("job", "run", "--json", "--schedule=3s", `--upload=${file}`, "-s", "TOKEN=s3cr3t-value", "sh", "-c", "cat payload.txt; echo token=$TOKEN");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { job_uuid: string; status: string; scheduled_time: string; schedule_input: string };
    expect(out.status).toBe("SCHEDULED");
    expect(out.schedule_input).toBe("3s");
    const at = ms(out.scheduled_time);
    expect(Math.abs(at - (Date.now() + 3000))).toBeLessThan(2000); // it is the time rnx computed from "3s"
    const waiting = await statusOf(client, out.job_uuid);
    expect(waiting.status).toBe("SCHEDULED");
    expect(waiting.secretEnvironment).toEqual({ TOKEN: "***" });
    expect(as("job", "status", out.job_uuid).stdout).toMatch(/Scheduled:\s+\d{4}-/);
    expectError(await logError(client, out.job_uuid), GRPC_PRECONDITION, "its log starts when it runs");
    const s = await jobEnded(client, out.job_uuid);
    expect(s.status).toBe("COMPLETED");
    const late = ms(s.startTime) - ms(s.scheduledTime);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(1000);
    expect((await readLogs(client, out.job_uuid)).toString()).toBe("uploaded-payload\ntoken=s3cr3t-value\n");
  }, 30_000);

  test("rnx job run -f waits for a scheduled job, then follows it", () => {
    const r = as("job", "run", "-f", "--schedule=1s", "sh", "-c", "echo later; exit 4");
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 4, stdout: "later\n" });
  });

  test("cancel: a scheduled job becomes CANCELED and never runs; StopJob cancels it too; only jobs that have not started can be canceled", async () => {
    const uuid = await submit(client, { command: "sh", args: ["-c", "echo ran"], schedule: inSeconds(2) });
    const r = as("job", "cancel", uuid.slice(0, 8));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Status:\s+CANCELED/);
    await Bun.sleep(2500); // past its time
    const s = await statusOf(client, uuid);
    expect({ status: s.status, failureMessage: s.failureMessage, endTime: Boolean(s.endTime) }).toEqual({ status: "CANCELED", failureMessage: "canceled by request", endTime: true });
    expect(isError(await logError(client, uuid))).toBe(true);
    expectError(await call(client.cancelJob, client, { uuid }), GRPC_PRECONDITION, "is CANCELED; only a SCHEDULED or PENDING job can be canceled");
    // Joblet's clients stop a scheduled job to cancel it
    const other = await submit(client, { command: "true", schedule: inSeconds(60) });
    const stopped = await call(client.stopJob, client, { uuid: other });
    expect(isError(stopped) ? stopped : stopped.status).toBe("CANCELED");
    // a scheduled job cannot be deleted before it is canceled; afterwards it can
    const third = await submit(client, { command: "true", schedule: inSeconds(60) });
    expectError(await call(client.deleteJob, client, { uuid: third }), GRPC_PRECONDITION, "is SCHEDULED; cancel it before deleting it");
    await call(client.cancelJob, client, { uuid: third });
    expect(isError(await call(client.deleteJob, client, { uuid: third }))).toBe(false);
  }, 30_000);

  test("a recurring job launches a run each time, never overlapping the previous one; listed; canceled, it stops", async () => {
    // every second, each run taking 2.5 s: without allow_overlap, runs are skipped while one is active
    const r = as("job", "run", "--json", "--cron", "* * * * * *", "--name", "tick", "sh", "-c", "echo run; sleep 2.5");
    expect(r.code).toBe(0);
    const schedule = (JSON.parse(r.stdout) as { job_uuid: string; status: string; cron: string }).job_uuid;
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "SCHEDULED", cron: "* * * * * *" });
    await until("three runs", async () => (await statusOf(client, schedule)).runs >= 3, 20_000);
    const s = await statusOf(client, schedule);
    expect({ status: s.status, cron: s.cron, allowOverlap: s.allowOverlap }).toEqual({ status: "SCHEDULED", cron: "* * * * * *", allowOverlap: false });
    expect(ms(s.scheduledTime)).toBeGreaterThan(Date.now() - 1500); // the next run, moving on
    const listed = await listJobs(client);
    expect(listed.find((j) => j.uuid === schedule)).toMatchObject({ status: "SCHEDULED", cron: "* * * * * *", name: "tick" });
    expect(as("job", "status", schedule).stdout).toMatch(/Cron:\s+\* \* \* \* \* \*/);
    expect(as("job", "cancel", schedule).code).toBe(0);
    const runsAtCancel = (await statusOf(client, schedule)).runs;
    await Bun.sleep(2000);
    expect((await statusOf(client, schedule)).runs).toBe(runsAtCancel);
    const runs = (await listJobs(client)).filter((j) => j.scheduleUuid === schedule);
    expect(runs.length).toBe(runsAtCancel);
    const ended = await Promise.all(runs.map((j) => jobEnded(client, j.uuid)));
    for (const e of ended) {
      expect(e.status).toBe("COMPLETED");
      expect(e.name).toBe("tick");
      expect((await readLogs(client, e.uuid)).toString()).toBe("run\n");
    }
    expect(maxOverlap(ended)).toBe(1);
    expect(rnx(["--config", d.clients.admin, "job", "log", schedule]).stderr).toContain("a recurring schedule: each run is a job of its own");
  }, 60_000);

  test("with allow_overlap, runs of a recurring job may overlap", async () => {
    const schedule = await submit(client, { command: "sleep", args: ["2.5"], cron: "* * * * * *", allowOverlap: true });
    await until("three runs", async () => (await statusOf(client, schedule)).runs >= 3, 20_000);
    await call(client.cancelJob, client, { uuid: schedule });
    const runs = (await listJobs(client)).filter((j) => j.scheduleUuid === schedule);
    const ended = await Promise.all(runs.map((j) => jobEnded(client, j.uuid)));
    expect(maxOverlap(ended)).toBeGreaterThanOrEqual(2);
  }, 60_000);

  test("stop", async () => {
    client.close();
    await d.stop();
  });
});

describe("joblet.maxConcurrentJobs", () => {
  test("10 jobs with maxConcurrentJobs=2: never more than 2 running, started first come first served", async () => {
    const d = await startDaemon({ config: { joblet: { maxConcurrentJobs: 2 } } });
    const client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
    try {
      const uuids: string[] = [];
      for (let i = 0; i < 10; i++) uuids.push(await submit(client, { command: "sleep", args: ["0.4"] }));
      let sampledMax = 0;
      const ended: GetJobStatusResponse[] = [];
      await until(
        "every job ended",
        async () => {
          const jobs = await listJobs(client);
          sampledMax = Math.max(sampledMax, jobs.filter((j) => j.status === "RUNNING" || j.status === "INITIALIZING").length);
          return jobs.every((j) => j.status === "COMPLETED");
        },
        60_000,
      );
      for (const u of uuids) ended.push(await statusOf(client, u));
      expect(ended.map((s) => s.status)).toEqual(Array(10).fill("COMPLETED"));
      expect(sampledMax).toBeLessThanOrEqual(2);
      expect(maxOverlap(ended)).toBe(2); // the records: at most 2 at once, and the slots were used
      const byStart = [...ended].sort((a, b) => ms(a.startTime) - ms(b.startTime)).map((s) => s.uuid);
      expect(byStart).toEqual(uuids); // FIFO
    } finally {
      client.close();
      await d.stop();
    }
  }, 90_000);

  test("queued jobs show their position; a full queue refuses with RESOURCE_EXHAUSTED; a queued job can be canceled", async () => {
    const d = await startDaemon({ config: { joblet: { maxConcurrentJobs: 1, maxQueuedJobs: 3 } } });
    const client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
    const as = (...a: string[]) => rnx(["--config", d.clients.admin, ...a]);
    try {
      const sleeper = await submit(client, { command: "sleep", args: ["60"] });
      expect((await statusOf(client, sleeper)).status).toBe("RUNNING");
      const queued: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await call(client.runJob, client, runRequest({ command: "echo", args: [`queued ${i}`] }));
        if (isError(r)) throw new Error(r.details);
        expect(r.status).toBe("PENDING");
        queued.push(r.jobUuid);
      }
      const positions = await Promise.all(queued.map(async (u) => (await statusOf(client, u)).queuePosition));
      expect(positions).toEqual([1, 2, 3]);
      expect((await statusOf(client, queued[1]!)).pendingReason).toContain("1 of 1 running (joblet.maxConcurrentJobs)");
      expect(as("job", "status", queued[1]!).stdout).toMatch(/Waiting:\s+position 2; waiting for a free slot/);
      expectError(await call(client.runJob, client, runRequest({ command: "true" })), GRPC_EXHAUSTED, "1 jobs are running (joblet.maxConcurrentJobs) and 3 are waiting (joblet.maxQueuedJobs)");
      const refused = as("job", "run", "true");
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("RESOURCE_EXHAUSTED");
      expectError(await logError(client, queued[0]!), GRPC_PRECONDITION, "is PENDING");
      // cancel the first: the others move up, and there is room again
      expect(as("job", "cancel", queued[0]!).code).toBe(0);
      expect(await Promise.all(queued.slice(1).map(async (u) => (await statusOf(client, u)).queuePosition))).toEqual([1, 2]);
      queued.push(await submit(client, { command: "echo", args: ["queued 3"] }));
      expect((await statusOf(client, queued[3]!)).queuePosition).toBe(3);
      // the slot frees: the queue drains in order
      await call(client.stopJob, client, { uuid: sleeper });
      const ended = await Promise.all(queued.slice(1).map((u) => jobEnded(client, u)));
      expect(ended.map((s) => s.status)).toEqual(["COMPLETED", "COMPLETED", "COMPLETED"]);
      expect([...ended].sort((a, b) => ms(a.startTime) - ms(b.startTime)).map((s) => s.uuid)).toEqual(queued.slice(1));
      expect((await statusOf(client, queued[0]!)).status).toBe("CANCELED");
    } finally {
      client.close();
      await d.stop();
    }
  }, 90_000);
});

describe("restart", () => {
  test("after SIGKILL: 20 scheduled jobs, a recurring one and queued ones carry on with their uploads and secrets; running ones end DAEMON_RESTART", async () => {
    const root = join(work, "restart");
    const pki = makePki();
    const config = durable(root, { joblet: { maxConcurrentJobs: 4 } });
    const a = await startDaemon({ pki, config });
    let client = jobClient(a.address, pki.ca.cert, pki.clients.admin);
    let b: TestDaemon | undefined;
    const secret = (i: number | string) => `sealed-secret-${i}-${process.pid}`;
    const upload = (name: string, text: string) => ({ path: name, content: Buffer.from(text), mode: 0o644, isDirectory: false });
    try {
      const at = inSeconds(15);
      const scheduled: string[] = [];
      for (let i = 0; i < 20; i++) {
        scheduled.push(await submit(client, { command: "sh", args: ["-c", 'cat n.txt; echo "$SECRET"'], schedule: at, uploads: [upload("n.txt", `job ${i}\n`)], secretEnvironment: { SECRET: secret(i) } }));
      }
      const running = await Promise.all(Array.from({ length: 4 }, () => submit(client, { command: "sleep", args: ["120"] })));
      const queued: string[] = [];
      for (let i = 0; i < 3; i++) queued.push(await submit(client, { command: "sh", args: ["-c", 'echo "queued $SECRET"'], secretEnvironment: { SECRET: secret(`q${i}`) } }));
      // after the others: its runs queue behind them rather than take a slot first
      const recurring = await submit(client, { command: "sh", args: ["-c", 'cat r.txt; echo "$SECRET"'], cron: "*/2 * * * * *", uploads: [upload("r.txt", "recurring\n")], secretEnvironment: { SECRET: secret("r") } });
      // due while the daemon is down: runs at once when it is back
      const missedAt = inSeconds(1);
      const missed = await submit(client, { command: "echo", args: ["missed"], schedule: missedAt });
      expect((await statusOf(client, queued[2]!)).queuePosition).toBe(3);
      for (const u of running) expect((await statusOf(client, u)).status).toBe("RUNNING");

      process.kill(a.pid, "SIGKILL");
      await a.exited;
      client.close();
      // the secrets are in the state directory only sealed, under a key of its own (0600)
      const stateDir = join(root, "state");
      const everything = readdirSync(stateDir).map((f) => readFileSync(join(stateDir, f)).toString("latin1")).join("");
      for (const s of [secret(0), secret(19), secret("r"), secret("q0")]) expect(everything).not.toContain(s);
      expect(statSync(join(stateDir, "secrets.key")).mode & 0o777).toBe(0o600);

      await Bun.sleep(Math.max(0, ms(missedAt) - Date.now()) + 200); // the daemon is down at the missed job's time
      const restarted = Date.now();
      b = await startDaemon({ pki, config: { ...config, server: { port: a.port } } });
      client = jobClient(b.address, pki.ca.cert, pki.clients.admin);
      for (const u of running) expect((await statusOf(client, u)).failureReason).toBe("DAEMON_RESTART");
      const q = await Promise.all(queued.map((u) => jobEnded(client, u)));
      expect(q.map((s) => s.status)).toEqual(["COMPLETED", "COMPLETED", "COMPLETED"]);
      for (let i = 0; i < 3; i++) expect((await readLogs(client, queued[i]!)).toString()).toBe(`queued ${secret(`q${i}`)}\n`);
      const m = await jobEnded(client, missed);
      expect(m.status).toBe("COMPLETED");
      expect(ms(m.startTime)).toBeGreaterThanOrEqual(restarted); // at once on the restart, not at its (past) time

      expect((await statusOf(client, scheduled[0]!)).status).toBe("SCHEDULED"); // not yet due
      const ends = await Promise.all(scheduled.map((u) => jobEnded(client, u)));
      for (let i = 0; i < 20; i++) {
        expect(ends[i]!.status).toBe("COMPLETED");
        expect(ms(ends[i]!.startTime)).toBeGreaterThanOrEqual(ms(at));
        expect((await readLogs(client, scheduled[i]!)).toString()).toBe(`job ${i}\n${secret(i)}\n`);
      }

      const before = (await statusOf(client, recurring)).runs;
      await until("the recurring job runs after the restart", async () => (await statusOf(client, recurring)).runs > before + 1, 20_000);
      const rec = await statusOf(client, recurring);
      expect(rec.status).toBe("SCHEDULED");
      const lastRun = await jobEnded(client, rec.lastRunUuid);
      expect((await readLogs(client, lastRun.uuid)).toString()).toBe(`recurring\n${secret("r")}\n`);
      expect((await call(client.cancelJob, client, { uuid: recurring }).then((r) => (isError(r) ? r : r.status)))).toBe("CANCELED");
      expect(existsSync(join(root, "jobs", recurring))).toBe(false); // its files went with it
    } finally {
      client.close();
      await b?.stop();
      await a.stop();
    }
  }, 120_000);
});
