// The job lifecycle through the API and rnx: states and exit codes, setup failures, uploads,
// secrets, command policy, short ids, logs (fan-out, late followers, bounded memory), 100 jobs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobServiceClient, RunJobRequest } from "../../src/gen/joblet";
import { call, isError, jobClient, jobEnded, readLogs, runRequest, type RpcError } from "../helpers/client";
import { startDaemon, type TestDaemon } from "../helpers/daemon";
import { rnx } from "../helpers/run";

let d: TestDaemon;
let client: JobServiceClient;
const work = mkdtempSync(join(tmpdir(), "jobs-test-"));

beforeAll(async () => {
  d = await startDaemon({ config: { joblet: { cleanupTimeout: "2s", maxLogSize: "8MB" }, filesystem: { workspace: { max_upload_size: "1MB" } } } });
  client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
});
afterAll(async () => {
  client?.close();
  await d?.stop();
  rmSync(work, { recursive: true, force: true });
});

const request = runRequest;

const run = (r: Partial<RunJobRequest>) => call(client.runJob, client, request(r));
const status = (uuid: string) => call(client.getJobStatus, client, { uuid });

const finished = (uuid: string) => jobEnded(client, uuid);

const CODES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE"];

function expectError(v: unknown, code: string, text: string): void {
  expect(isError(v)).toBe(true);
  const e = v as RpcError;
  expect({ code: CODES[e.code], details: e.details }).toEqual({ code, details: expect.stringContaining(text) as unknown as string });
}

describe("states and exit codes", () => {
  test("exit 0 → COMPLETED; exit n → FAILED with n; a signal death → 128+n", async () => {
    const cases: [string, string, number][] = [
      ["exit 0", "COMPLETED", 0],
      ["exit 42", "FAILED", 42],
      ["kill -KILL $$", "FAILED", 137],
      ["kill -SEGV $$", "FAILED", 139],
    ];
    for (const [script, st, code] of cases) {
      const r = await run({ command: "sh", args: ["-c", script] });
      if (isError(r)) throw new Error(r.details);
      const s = await finished(r.jobUuid);
      expect({ script, status: s.status, exit: s.exitCode }).toEqual({ script, status: st, exit: code });
      expect(Date.parse(s.endTime)).toBeGreaterThanOrEqual(Date.parse(s.startTime));
    }
  });

  test("rnx job run -f exits with the job's code and streams its output", () => {
    const r = rnx(["--config", d.clients.admin, "job", "run", "-f", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("out\nerr\n");
  });

  test("a command that does not exist: FAILED, EXEC_FAILED, a precise message, no hang", async () => {
    const r = await run({ command: "pythn", args: ["x"] });
    if (isError(r)) throw new Error(r.details);
    expect(r.status).toBe("FAILED");
    const s = await finished(r.jobUuid);
    expect(s).toMatchObject({ status: "FAILED", exitCode: 127, failureReason: "EXEC_FAILED" });
    expect(s.failureMessage).toBe('exec "pythn": not found in the sandbox PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)');
    const cli = rnx(["--config", d.clients.admin, "job", "run", "/nope/prog"]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('EXEC_FAILED: exec "/nope/prog": no such file in the sandbox');
    const notExec = await run({ command: "/etc/passwd" });
    if (isError(notExec)) throw new Error(notExec.details);
    expect((await finished(notExec.jobUuid)).failureMessage).toMatch(/exec "\/etc\/passwd": permission denied/i);
  });

  test("a missing working directory is a setup failure naming it", async () => {
    const r = await run({ command: "true", workDir: "/work/not/there" });
    if (isError(r)) throw new Error(r.details);
    const s = await finished(r.jobUuid);
    expect(s).toMatchObject({ status: "FAILED", failureReason: "SETUP_FAILED", failureMessage: "working directory /work/not/there: no such file or directory" });
  });

  test("capabilities not built yet are refused, never ignored", async () => {
    expectError(await run({ network: "bridge" }), "UNIMPLEMENTED", "networking");
    expectError(await run({ volumes: ["data"] }), "UNIMPLEMENTED", "volumes");
    expectError(await run({ runtime: "python-3.11" }), "UNIMPLEMENTED", "runtimes");
    expectError(await run({ gpuCount: 1 }), "UNIMPLEMENTED", "GPU");
    expect(isError(await run({ network: "none" }))).toBe(false);
  });

  test("resource fields are stored and shown", async () => {
    const r = await run({ maxCpu: 50, maxMemory: 256, maxIoBps: 1048576, cpuCores: "0-1", name: "limited" });
    if (isError(r)) throw new Error(r.details);
    const s = await finished(r.jobUuid);
    expect(s).toMatchObject({ maxCpu: 50, maxMemory: 256, maxIoBps: 1048576, cpuCores: "0,1", maxPids: 512, name: "limited" });
    expectError(await run({ maxMemory: -1 }), "INVALID_ARGUMENT", "max_memory");
    expectError(await run({ cpuCores: "0-x" }), "INVALID_ARGUMENT", "cpu_cores");
  });
});

describe("ids, stop, cancel, delete", () => {
  test("short prefixes work for every job command; too short or unknown ids are explained", async () => {
    const r = await run({ command: "sleep", args: ["30"] });
    if (isError(r)) throw new Error(r.details);
    const short = r.jobUuid.slice(0, 8);
    const as = (...a: string[]) => rnx(["--config", d.clients.admin, "job", ...a]);
    expect(as("status", short).stdout).toContain(r.jobUuid);
    expect(as("cancel", short).stderr).toContain("only a SCHEDULED or PENDING job can be canceled (use stop for a running job)");
    expect(as("delete", short).stderr).toContain("is RUNNING; stop it before deleting it");
    expect(as("stop", short).stdout).toContain("STOPPED");
    expect(as("stop", short).stderr).toContain("only a running job can be stopped");
    expect(as("log", short).code).toBe(0);
    expect(as("delete", short).stdout).toContain(`deleted job ${r.jobUuid}`);
    expect(as("status", short).stderr).toContain(`job ${short} not found`);
    expect(as("status", "abc").stderr).toContain("too short");
  });

  test("delete-all removes finished jobs with their logs and skips running ones", async () => {
    const running = await run({ command: "sleep", args: ["30"] });
    const done = await run({ command: "echo", args: ["bye"] });
    if (isError(running) || isError(done)) throw new Error("run failed");
    await finished(done.jobUuid);
    const logFile = join(d.dir, "logs", `${done.jobUuid}.log`);
    expect(existsSync(logFile)).toBe(true);
    const r = await call(client.deleteAllJobs, client, {});
    if (isError(r)) throw new Error(r.details);
    expect(r.skippedCount).toBe(1);
    expect(r.deletedCount).toBeGreaterThanOrEqual(1);
    expect(existsSync(logFile)).toBe(false);
    expectError(await status(done.jobUuid), "NOT_FOUND", "not found");
    expect(isError(await status(running.jobUuid))).toBe(false);
    await call(client.stopJob, client, { uuid: running.jobUuid });
  });
});

describe("uploads", () => {
  test("files and directories land in /work with their modes, owned by the job user", () => {
    const dir = join(work, "tree");
    mkdirSync(join(dir, "sub", "empty"), { recursive: true });
    writeFileSync(join(dir, "run.sh"), "echo from-upload\n", { mode: 0o755 });
    writeFileSync(join(dir, "sub", "data.txt"), "hello", { mode: 0o640 });
    const r = rnx(["--config", d.clients.admin, "job", "run", "-f", `--upload-dir=${dir}`, "sh", "-c", "./run.sh; stat -c '%n %a %U' run.sh sub sub/data.txt sub/empty; cat sub/data.txt"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("from-upload\nrun.sh 755 nobody\nsub 755 nobody\nsub/data.txt 640 nobody\nsub/empty 755 nobody\nhello");
  });

  test("paths that could leave the workspace, special files and oversize uploads are refused by name", async () => {
    const before = new Set(readdirSync(join(d.dir, "jobs")));
    const file = (path: string, extra: Partial<{ mode: number; isDirectory: boolean; content: Buffer }> = {}) => ({ path, content: Buffer.from("x"), mode: 0o644, isDirectory: false, ...extra });
    const cases: [ReturnType<typeof file>[], string][] = [
      [[file("../escape")], '"../escape" leaves the workspace'],
      [[file("a/../../escape")], '"a/../../escape" leaves the workspace'],
      [[file("/etc/passwd")], '"/etc/passwd" is absolute'],
      [[file("dev", { mode: 0o020644 })], '"dev" is not a regular file or directory'],
      [[file("link", { mode: 0x8000000 | 0o777 })], '"link" is not a regular file or directory'],
      [[file("a"), file("a")], '"a" appears twice'],
      [[file("f"), file("f/g")], '"f/g" is inside "f", which is a file'],
      [[file("big", { content: Buffer.alloc(1024 * 1024 + 1) })], '"big" takes the upload past 1048576 bytes'],
      [[file("nul\0x")], "contains a NUL byte"],
    ];
    for (const [uploads, text] of cases) expectError(await run({ uploads }), "INVALID_ARGUMENT", text);
    expect(readdirSync(join(d.dir, "jobs")).filter((e) => !before.has(e))).toEqual([]); // nothing was created (ended jobs' workspaces may go meanwhile)
    expect(existsSync(join(d.dir, "escape"))).toBe(false);
  });
});

describe("secrets", () => {
  test("secret values appear in no response, no log line, no file", async () => {
    const secret = `s3cr3t-${process.pid}-value`;
    const r = await run({ command: "sh", args: ["-c", 'test "$API_TOKEN" = "$EXPECTED" && echo token-ok'], environment: { EXPECTED: "x" }, secretEnvironment: { API_TOKEN: secret } });
    if (isError(r)) throw new Error(r.details);
    const s = await finished(r.jobUuid);
    const list = await call(client.listJobs, client, {});
    const responses = JSON.stringify([r, s, list]);
    expect(responses).not.toContain(secret);
    expect(s.secretEnvironment).toEqual({ API_TOKEN: "***" });
    const cli = [rnx(["--config", d.clients.admin, "job", "status", r.jobUuid]), rnx(["--config", d.clients.admin, "job", "list", "--json"]), rnx(["--config", d.clients.admin, "job", "status", r.jobUuid, "--json"])];
    for (const c of cli) expect(c.stdout).not.toContain(secret);
    expect(d.output()).not.toContain(secret);
    const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
    for (const f of files(d.dir)) expect({ f, leaked: readFileSync(f).includes(secret) }).toEqual({ f, leaked: false });
  });

  test("the job itself receives the secret", () => {
    const r = rnx(["--config", d.clients.admin, "job", "run", "-f", "-s", "TOKEN=abc", "sh", "-c", 'echo "${#TOKEN}"']);
    expect(r.stdout).toBe("3\n");
  });
});

describe("command policy", () => {
  test("validateCommands with allowedCommands refuses other programs; shell syntax is no command", async () => {
    const strict = await startDaemon({ config: { joblet: { validateCommands: true, allowedCommands: ["echo", "/usr/bin/env"] } } });
    const c = jobClient(strict.address, strict.pki.ca.cert, strict.pki.clients.admin);
    try {
      expect(isError(await call(c.runJob, c, request({ command: "echo", args: ["hi"] })))).toBe(false);
      expect(isError(await call(c.runJob, c, request({ command: "/usr/bin/echo" })))).toBe(false);
      expectError(await call(c.runJob, c, request({ command: "curl" })), "INVALID_ARGUMENT", 'command: "curl" is not allowed on this server (joblet.allowedCommands: echo, /usr/bin/env)');
      expectError(await call(c.runJob, c, request({ command: "echo hi; rm -rf /" })), "INVALID_ARGUMENT", "is not a program name or path");
    } finally {
      c.close();
      await strict.stop();
    }
  });
});

describe("logs", () => {
  test("five followers and a late one receive identical bytes; a cancelled follower leaves the rest alone", async () => {
    // ~4 MB over about a second, in lines of varying length
    const r = await run({ command: "sh", args: ["-c", "i=0; while [ $i -lt 40 ]; do seq $((i*1000)) $((i*1000+9999)); i=$((i+1)); sleep 0.02; done"] });
    if (isError(r)) throw new Error(r.details);
    const quitter = client.getJobLogs({ uuid: r.jobUuid });
    quitter.once("data", () => quitter.cancel());
    quitter.on("error", () => undefined);
    const followers = await Promise.all(Array.from({ length: 5 }, () => readLogs(client, r.jobUuid)));
    const late = await readLogs(client, r.jobUuid);
    let expected = "";
    for (let i = 0; i < 40; i++) for (let n = i * 1000; n <= i * 1000 + 9999; n++) expected += `${n}\n`;
    const hash = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
    for (const f of [...followers, late]) expect(hash(f)).toBe(hash(expected));
    expect((await finished(r.jobUuid)).status).toBe("COMPLETED");
  });

  test("a follower that stops reading holds up neither the job nor the other followers, and still gets every byte", async () => {
    const r = await run({ command: "sh", args: ["-c", "seq 1 400000"] }); // ~2.7 MB
    if (isError(r)) throw new Error(r.details);
    const parts: Buffer[] = [];
    const slow = client.getJobLogs({ uuid: r.jobUuid });
    slow.on("data", (c: { payload: Buffer }) => parts.push(Buffer.from(c.payload)));
    slow.pause(); // flow control: the server may not send more than the window
    const others = await Promise.all([readLogs(client, r.jobUuid), readLogs(client, r.jobUuid)]);
    expect((await finished(r.jobUuid)).status).toBe("COMPLETED");
    const done = new Promise<void>((resolve, reject) => {
      slow.on("end", resolve);
      slow.on("error", reject);
    });
    slow.resume();
    await done;
    const hash = (b: Buffer) => createHash("sha256").update(b).digest("hex");
    expect(hash(Buffer.concat(parts))).toBe(hash(others[0]!));
    expect(hash(others[1]!)).toBe(hash(others[0]!));
    expect(others[0]!.toString().endsWith("399999\n400000\n")).toBe(true);
  });

  test("a log stops at joblet.maxLogSize with a note, and the daemon's memory stays flat under `yes`", async () => {
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d.pid}/status`, "utf8"))![1]) * 1024;
    const before = rss();
    const r = await run({ command: "timeout", args: ["6", "yes", "joblet"], timeout: "20s" });
    if (isError(r)) throw new Error(r.details);
    const samples: number[] = [];
    for (;;) {
      samples.push(rss());
      const s = await status(r.jobUuid);
      if (!isError(s) && ["COMPLETED", "FAILED"].includes(s.status)) break;
      await Bun.sleep(100);
    }
    const log = await readLogs(client, r.jobUuid);
    expect(log.length).toBeLessThan(8 * 1024 * 1024 + 200);
    expect(log.subarray(-120).toString()).toContain("[joblet: output exceeded 8388608 bytes; the rest was discarded]");
    const s = await status(r.jobUuid);
    if (isError(s)) throw new Error(s.details);
    expect(s.warning).toContain("output exceeded joblet.maxLogSize (8388608 bytes)");
    // no growth trend: the second half of the run peaks no higher than the first (plus GC noise)
    const half = Math.floor(samples.length / 2);
    const peak = (xs: number[]) => Math.max(...xs);
    expect(samples.length).toBeGreaterThan(20);
    expect(peak(samples.slice(half))).toBeLessThan(peak(samples.slice(0, half)) + 24 * 1024 * 1024);
    expect(peak(samples) - before).toBeLessThan(128 * 1024 * 1024);
  }, 30_000);

  test("logs of an unknown job are NOT_FOUND", async () => {
    await expect(readLogs(client, "00000000-0000-0000-0000-000000000000")).rejects.toMatchObject({ code: 5 });
  });
});

describe("scale", () => {
  test("100 concurrent jobs all complete with their own output", async () => {
    const runs = await Promise.all(Array.from({ length: 100 }, (_, i) => run({ command: "sh", args: ["-c", `echo job-${i} $JOBLET_JOB_ID`] })));
    const outs = await Promise.all(
      runs.map(async (r, i) => {
        if (isError(r)) throw new Error(r.details);
        const s = await finished(r.jobUuid);
        return { i, status: s.status, log: (await readLogs(client, r.jobUuid)).toString(), uuid: r.jobUuid };
      }),
    );
    for (const o of outs) expect(o).toEqual({ i: o.i, status: "COMPLETED", log: `job-${o.i} ${o.uuid}\n`, uuid: o.uuid });
    expect(new Set(outs.map((o) => o.uuid)).size).toBe(100);
  });
});
