// The job layer's pure parts: upload and request checks, mount planning, setup reports, the log
// store's followers, and id resolution.
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeSpec, Tag, type SpawnSpec } from "../../src/ffi/spec";
import { runRequest } from "../helpers/client";
import { ApiError } from "../../src/daemon/errors";
import type { JobRecord } from "../../src/daemon/jobs/job";
import { MemoryStateStore } from "../../src/daemon/state/memory";
import { JobManager, type JobManagerDeps } from "../../src/daemon/jobs/job-manager";
import { checkUploads, uploadPath } from "../../src/daemon/jobs/uploads";
import { checkRunRequest, checkWorkDir, type RunPolicy } from "../../src/daemon/jobs/validation";
import { JobLog, LogStore } from "../../src/daemon/logs/log-store";
import { describeReport } from "../../src/daemon/sandbox/launcher";
import { planMounts } from "../../src/daemon/sandbox/template";

const dir = mkdtempSync(join(tmpdir(), "jobs-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return "accepted";
}

describe("upload paths", () => {
  test("relative paths are normalized; escapes and oddities refused", () => {
    expect(uploadPath("a/./b//c")).toBe("a/b/c");
    expect(uploadPath("./x")).toBe("x");
    expect(refusal(() => uploadPath("../x"))).toContain("leaves the workspace");
    expect(refusal(() => uploadPath("a/b/../../../x"))).toContain("leaves the workspace");
    expect(refusal(() => uploadPath("/abs"))).toContain("is absolute");
    expect(refusal(() => uploadPath("."))).toContain("names the workspace itself");
    expect(refusal(() => uploadPath(""))).toContain("empty");
    expect(refusal(() => uploadPath(`${"d/".repeat(65)}f`))).toContain("deeper than 64");
    expect(refusal(() => uploadPath("x".repeat(256)))).toContain("longer than 255");
  });

  test("modes: permission bits kept, special bits dropped, file types other than file/dir refused", () => {
    const u = (mode: number, isDirectory = false) => ({ path: "p", content: new Uint8Array(0), mode, isDirectory });
    const limits = { maxTotalBytes: 100, maxFiles: 10 };
    expect(checkUploads([u(0o4755)], limits)[0]!.mode).toBe(0o755);
    expect(checkUploads([u(0o100640)], limits)[0]!.mode).toBe(0o640);
    expect(checkUploads([u(0)], limits)[0]!.mode).toBe(0o644);
    expect(checkUploads([u(0, true)], limits)[0]!.mode).toBe(0o755);
    expect(checkUploads([u(0x80000000 | 0o750, true)], limits)[0]!.mode).toBe(0o750); // Go's ModeDir
    for (const bad of [0o020644, 0o060644, 0o010644, 0o140644, 0o120777, 0x4000000 | 0o644, 0x8000000 | 0o777]) {
      expect(refusal(() => checkUploads([u(bad)], limits))).toContain("is not a regular file or directory");
    }
    expect(refusal(() => checkUploads([u(0x80000000 | 0o755)], limits))).toContain("not marked is_directory");
  });

  test("limits on count and total size", () => {
    const f = (path: string, n: number) => ({ path, content: new Uint8Array(n), mode: 0o644, isDirectory: false });
    expect(refusal(() => checkUploads([f("a", 60), f("b", 41)], { maxTotalBytes: 100, maxFiles: 10 }))).toContain('"b" takes the upload past 100 bytes');
    expect(refusal(() => checkUploads([f("a", 1), f("b", 1)], { maxTotalBytes: 100, maxFiles: 1 }))).toContain("at most 1 are accepted");
  });
});

describe("RunJob checks", () => {
  const policy: RunPolicy = { validateCommands: true, jobTimeoutMs: 3_600_000, maxUploadBytes: 1024 };
  const req = runRequest;

  test("work_dir", () => {
    expect(checkWorkDir("")).toBe("/work");
    expect(checkWorkDir("/work//src/.")).toBe("/work/src");
    for (const bad of ["rel", "/work/../etc", "/proc/self/fd/3", "/dev/shm", "/sys"]) expect(refusal(() => checkWorkDir(bad))).toContain("work_dir");
  });

  test("environment names, NUL bytes, sizes", () => {
    expect(refusal(() => checkRunRequest(req({ environment: { "1X": "y" } }), policy))).toContain('environment: variable name "1X"');
    expect(refusal(() => checkRunRequest(req({ secretEnvironment: { K: "a\0b" } }), policy))).toContain("secret_environment.K: contains a NUL byte");
    expect(refusal(() => checkRunRequest(req({ args: ["ok", "b\0d"] }), policy))).toContain("args[1]: contains a NUL byte");
    expect(refusal(() => checkRunRequest(req({ environment: { BIG: "x".repeat(40_000) } }), policy))).toContain("longer than 32 KiB");
    expect(refusal(() => checkRunRequest(req({ args: Array(40).fill("x".repeat(30_000)) }), policy))).toContain("fit a command line");
  });

  test("timeout: a duration no longer than jobTimeout; jobTimeout is the default", () => {
    expect(checkRunRequest(req({}), policy).timeoutMs).toBe(3_600_000);
    expect(checkRunRequest(req({ timeout: "90s" }), policy).timeoutMs).toBe(90_000);
    expect(refusal(() => checkRunRequest(req({ timeout: "2h" }), policy))).toContain("longer than the server's limit");
    expect(refusal(() => checkRunRequest(req({ timeout: "soon" }), policy))).toContain("timeout:");
  });

  test("validateCommands off accepts anything that is not empty", () => {
    expect(checkRunRequest(req({ command: "a b;c" }), { ...policy, validateCommands: false }).command).toBe("a b;c");
    expect(refusal(() => checkRunRequest(req({ command: " " }), { ...policy, validateCommands: false }))).toContain("command: is empty");
  });
});

describe("mount planning (merged /usr aware)", () => {
  test("relative symlinks become symlinks, others are bound from their real path, missing paths skipped", () => {
    const root = join(dir, "host");
    mkdirSync(join(root, "usr", "bin"), { recursive: true });
    mkdirSync(join(root, "real"), { recursive: true });
    writeFileSync(join(root, "real", "resolv.conf"), "nameserver 127.0.0.53\n");
    symlinkSync("usr/bin", join(root, "bin"));
    symlinkSync(join(root, "real", "resolv.conf"), join(root, "resolv.conf"));
    symlinkSync("../escape", join(root, "sneaky"));
    const plan = planMounts([join(root, "bin"), join(root, "usr", "bin"), join(root, "resolv.conf"), join(root, "missing"), "/", join(root, "sneaky")]);
    expect(plan.symlinks).toEqual([{ target: "usr/bin", path: join(root, "bin") }]);
    expect(plan.binds).toEqual([
      { src: join(root, "real", "resolv.conf"), dst: join(root, "resolv.conf") },
      { src: join(root, "usr", "bin"), dst: join(root, "usr", "bin") },
    ]);
  });
});

describe("setup reports", () => {
  const spec = { argv: ["pythn"], env: ["PATH=/usr/bin:/bin"], binds: [{ src: "/usr/lib64", dst: "/usr/lib64" }], cwd: "/work/x" } as unknown as SpawnSpec;
  const report = (stage: number, errno: number, index = -1) => {
    const b = new Uint8Array(16);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 0x4a424c54, true);
    dv.setInt32(4, stage, true);
    dv.setInt32(8, errno, true);
    dv.setInt32(12, index, true);
    return b;
  };
  test("each stage reads as what failed and why", () => {
    expect(describeReport(report(42, 2), spec)).toEqual({ reason: "EXEC_FAILED", message: 'exec "pythn": not found in the sandbox PATH (/usr/bin:/bin)' });
    expect(describeReport(report(41, 13), spec).message).toMatch(/^exec "pythn": permission denied$/i);
    expect(describeReport(report(7, 2, 0), spec)).toEqual({ reason: "SETUP_FAILED", message: "mount /usr/lib64: no such file or directory" });
    expect(describeReport(report(26, 2), spec).message).toBe("working directory /work/x: no such file or directory");
    expect(describeReport(new Uint8Array(3), spec).message).toContain("without a report");
  });
});

describe("spec encoding", () => {
  test("records are tag, length, payload; the root comes first", () => {
    const b = encodeSpec({ argv: ["a"], env: [], root: "/r", binds: [], symlinks: [], files: [], cwd: "/", hostname: "h", uid: 1, gid: 2, tmpOptions: "", cgroupProcs: [], namespaces: 0, rlimits: [], initFd: 9, logFd: 10, logLimit: 0, lifelineFd: 11, masks: [], readonly: [], rootWritable: false });
    const dv = new DataView(b.buffer, b.byteOffset);
    expect(dv.getUint16(0, true)).toBe(Tag.ROOT);
    expect(dv.getUint32(2, true)).toBe(3);
    expect(Buffer.from(b.subarray(6, 9)).toString()).toBe("/r\0");
    expect(dv.getUint16(9, true)).toBe(Tag.ARG);
  });
});

describe("log store", () => {
  // The job's init writes the file in production; here the test appends to it the same way (O_APPEND).
  const write = (fd: number, text: string) => writeSync(fd, Buffer.from(text));

  test("followers get everything from byte 0, then what is appended, and end when the log closes", async () => {
    const store = new LogStore(join(dir, "logs"), { chunkSize: 4 });
    const { log, file } = await store.create("job-a");
    const fd = file.fd;
    write(fd, "hello ");
    const early = (async () => {
      const parts: string[] = [];
      for await (const c of log.follow()) parts.push(Buffer.from(c).toString());
      return parts.join("");
    })();
    await Bun.sleep(20);
    write(fd, "world");
    await file.close();
    store.finished("job-a");
    expect(await early).toBe("hello world");
    let late = "";
    for await (const c of store.get("job-a")!.follow(6)) late += Buffer.from(c).toString();
    expect(late).toBe("world");
    expect(store.files.uuids()).toEqual(["job-a"]);
    store.remove("job-a");
    expect(store.get("job-a")).toBeUndefined();
  });

  test("a waiting follower is woken by the write itself (inotify), not by the fallback poll", async () => {
    const path = join(dir, "job-d.log");
    writeFileSync(path, "");
    // a poll far beyond the test's time limit: only inotify can wake the follower in time
    const log = new JobLog(path, 1024, false, 3_600_000);
    const fd = openSync(path, "a");
    const it = log.follow()[Symbol.asyncIterator]();
    const first = it.next();
    await Bun.sleep(20);
    write(fd, "x");
    expect(Buffer.from((await first).value as Uint8Array).toString()).toBe("x");
    closeSync(fd);
    log.close();
    expect((await it.next()).done).toBe(true);
  }, 5000);

  test("a stored log is history after the store is recreated (daemon restart)", async () => {
    const path = join(dir, "logs5");
    const first = new LogStore(path, { chunkSize: 3 });
    const { file } = await first.create("job-e");
    write(file.fd, "kept across restarts");
    await file.close();
    const second = new LogStore(path, { chunkSize: 3 });
    const log = second.get("job-e")!;
    expect(log.closed).toBe(true);
    let out = "";
    for await (const c of log.follow()) out += Buffer.from(c).toString();
    expect(out).toBe("kept across restarts");
  });

  test("a follower can be stopped while it waits", async () => {
    const store = new LogStore(join(dir, "logs3"), { chunkSize: 100 });
    const { log, file } = await store.create("job-c");
    const fd = file.fd;
    let stop = false;
    const it = (async () => {
      let n = 0;
      for await (const c of log.follow(0, () => stop)) n += c.length;
      return n;
    })();
    write(fd, "abc");
    await Bun.sleep(20);
    stop = true;
    write(fd, "d"); // wakes the follower, which sees the stop
    expect(await it).toBeGreaterThanOrEqual(3);
    await file.close();
    store.finished("job-c");
  });
});

describe("job ids", () => {
  const store = new MemoryStateStore().jobs;
  const put = (uuid: string) => store.put({ uuid, startTime: new Date().toISOString(), status: "COMPLETED" } as JobRecord);
  put("aaaaaaaa-1111-4000-8000-000000000001");
  put("aaaaaaaa-2222-4000-8000-000000000002");
  put("bbbbbbbb-3333-4000-8000-000000000003");
  const jobs = new JobManager({ store } as unknown as JobManagerDeps);

  test("full ids and unique prefixes of 8+ characters", () => {
    expect(jobs.resolve("bbbbbbbb-3333-4000-8000-000000000003").uuid).toBe("bbbbbbbb-3333-4000-8000-000000000003");
    expect(jobs.resolve("bbbbbbbb").uuid).toBe("bbbbbbbb-3333-4000-8000-000000000003");
    expect(jobs.resolve("aaaaaaaa-2").uuid).toBe("aaaaaaaa-2222-4000-8000-000000000002");
  });

  test("ambiguous, short and unknown ids are explained", () => {
    expect(refusal(() => jobs.resolve("aaaaaaaa"))).toBe(
      'INVALID_ARGUMENT: uuid: "aaaaaaaa" matches 2 jobs (aaaaaaaa-1111-4000-8000-000000000001, aaaaaaaa-2222-4000-8000-000000000002); give more characters',
    );
    expect(refusal(() => jobs.resolve("bbbb"))).toContain("too short");
    expect(refusal(() => jobs.resolve("cccccccc"))).toBe("NOT_FOUND: job cccccccc not found");
  });
});
