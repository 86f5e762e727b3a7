// Starts sandboxed processes through libjoblet and watches them: init's reports (the command ran,
// or which setup step failed and why; then log events) and the exit status (pidfd, via one
// watcher thread). The output never passes through here: joblet-init writes it to the job's log.
import { closeSync } from "node:fs";
import { getSystemErrorMap } from "node:util";
import * as ffi from "../../ffi/libjoblet";
import { Namespace, type SandboxSpec, type SpawnSpec } from "../../ffi/spec";

export type FailureReason = "EXEC_FAILED" | "SETUP_FAILED";

/** Something init reports about a running job. */
export type JobEvent = { kind: "LOG_TRUNCATED" } | { kind: "LOG_FAILED"; message: string } | { kind: "ORPHANED" };

export interface SetupFailure {
  reason: FailureReason;
  message: string;
}

/** A started job process. */
export interface JobProcess {
  pid: number;
  /** resolves once the command runs (undefined) or its setup failed (the failure) */
  started: Promise<SetupFailure | undefined>;
  /** resolves with the exit status: the code, or 128 + the signal */
  exited: Promise<number>;
  /** resolves when init exited and said everything it had to say */
  reported: Promise<void>;
  /** false once the process is gone */
  signal(sig: NodeJS.Signals): boolean;
}

const SIGNALS: Record<string, number> = { SIGTERM: 15, SIGKILL: 9, SIGINT: 2, SIGHUP: 1, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12 };

const errors = getSystemErrorMap();
const strerror = (errno: number) => errors.get(-errno)?.[1] ?? `errno ${errno}`;

// enum joblet_stage (csrc/joblet.h)
const STAGES: Record<number, (s: SandboxSpec, index: number, errno: number) => string> = {
  1: (s, i) => `join cgroup ${s.cgroupProcs[i] ?? ""}`,
  2: () => "join the network namespace",
  3: () => "create the cgroup namespace",
  4: () => "make mounts private",
  5: () => "mount the job's root",
  6: (s, i) => `create mount point ${s.binds[i]?.dst ?? ""}`.trim(),
  7: (s, i) => `mount ${s.binds[i]?.dst ?? ""}`,
  8: (s, i) => (i >= 0 ? `make ${s.binds[i]?.dst} read-only` : "make /proc entries read-only"),
  9: (s, i) => `symlink ${s.symlinks[i]?.path ?? ""}`,
  10: (s, i) => `write ${s.files[i]?.path ?? ""}`,
  11: () => "mount /proc",
  12: (s, i) => `mask ${s.masks[i] ?? ""}`,
  13: () => "mount /tmp",
  14: () => "set up /dev",
  15: () => "pivot_root",
  16: () => "make / read-only",
  17: () => "set the hostname",
  18: () => "bring up lo",
  19: () => "arrange file descriptors",
  20: (s, i) => `set rlimit ${s.rlimits[i]?.resource ?? ""}`,
  21: () => "drop capabilities",
  22: () => "drop supplementary groups",
  23: (s) => `switch to group ${s.gid}`,
  24: (s) => `switch to user ${s.uid}`,
  26: (s) => `working directory ${s.cwd}`,
  27: () => "set no_new_privs",
  28: () => "install the seccomp filter",
  29: () => "start joblet-init",
  40: () => "fork the command",
  43: () => "start joblet-init's event loop",
};
const STAGE_EXEC = 41;
const STAGE_NOT_FOUND = 42;
const EVENT_RUNNING = 50;
const EVENT_LOG_TRUNCATED = 51;
const EVENT_LOG_FAILED = 52;
const EVENT_ORPHANED = 53;
const REPORT_MAGIC = 0x4a424c54;
const REPORT_SIZE = 16;

/** A setup report (struct joblet_report) as a reason and a message a person can act on. */
export function describeReport(bytes: Uint8Array, spec: SandboxSpec): SetupFailure {
  if (bytes.length < 16) return { reason: "SETUP_FAILED", message: "the sandbox setup ended without a report" };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 16);
  const [magic, stage, errno, index] = [dv.getUint32(0, true), dv.getInt32(4, true), dv.getInt32(8, true), dv.getInt32(12, true)];
  if (magic !== REPORT_MAGIC) return { reason: "SETUP_FAILED", message: "the sandbox sent a malformed report" };
  const command = spec.argv[0] ?? "";
  if (stage === STAGE_NOT_FOUND) {
    const path = spec.env.find((e) => e.startsWith("PATH="))?.slice(5) ?? "";
    const message = command.includes("/") ? `exec "${command}": no such file in the sandbox` : `exec "${command}": not found in the sandbox PATH (${path})`;
    return { reason: "EXEC_FAILED", message };
  }
  if (stage === STAGE_EXEC) return { reason: "EXEC_FAILED", message: `exec "${command}": ${strerror(errno)}` };
  const what = STAGES[stage]?.(spec, index, errno) ?? `setup step ${stage}`;
  return { reason: "SETUP_FAILED", message: `${what}: ${strerror(errno)}` };
}

/** Reads init's report records until EOF (init exited): the first says whether the command
 * runs; later ones are events. A stream, not a blocking read: a job holds it for its lifetime. */
async function readReports(fd: number, onRecord: (stage: number, errno: number, record: Uint8Array) => void): Promise<void> {
  let pending = Buffer.alloc(0);
  try {
    for await (const chunk of Bun.file(fd).stream()) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
      while (pending.length >= REPORT_SIZE) {
        const record = pending.subarray(0, REPORT_SIZE);
        pending = pending.subarray(REPORT_SIZE);
        onRecord(record.readInt32LE(4), record.readInt32LE(8), record);
      }
    }
  } catch {
    // a read error ends the reports like EOF does
  } finally {
    closeSync(fd); // Bun does not close fds it did not open
  }
}

/** Starts overlap on this many threads: the machine's cores, at most 4 (a start is mostly kernel waits). */
const SPAWN_THREADS = Math.min(4, Math.max(2, navigator.hardwareConcurrency));

export class Launcher {
  private readonly waiting = new Map<number, (status: number) => void>();
  private readonly lifeline = ffi.lifeline();
  private readonly spawner = new ffi.Spawner(SPAWN_THREADS);

  /** `netnsPool`: how many empty network namespaces to keep ready (0: create each at start). */
  constructor(netnsPool = 0) {
    const fd = ffi.watchStart();
    void this.watch(fd);
    if (netnsPool > 0) ffi.netnsPoolStart(netnsPool);
  }

  /** One background thread reports exited pidfds as int32 records on a pipe. */
  private async watch(fd: number): Promise<void> {
    let pending = Buffer.alloc(0);
    for await (const chunk of Bun.file(fd).stream()) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
      while (pending.length >= 4) {
        const pidfd = pending.readInt32LE(0);
        pending = pending.subarray(4);
        const status = ffi.reap(pidfd) ?? -1;
        const resolve = this.waiting.get(pidfd);
        this.waiting.delete(pidfd);
        resolve?.(status); // marks the job gone before its pidfd number can be reused
        closeSync(pidfd);
      }
    }
  }

  /** Rejects (ErrnoError) when the job could not even be cloned; setup failures come through
   * `started`, log events through `onEvent`. The fds the spec names must stay open until it settles. */
  async launch(spec: Omit<SpawnSpec, "lifelineFd">, onEvent: (e: JobEvent) => void): Promise<JobProcess> {
    // A new network namespace is the slowest part of a start: take a ready one from the pool.
    const netns = spec.namespaces & Namespace.NET && spec.netnsFd === undefined ? ffi.netnsTake() : undefined;
    let p: ffi.SpawnedProcess;
    try {
      p = await this.spawner.spawn({ ...spec, lifelineFd: this.lifeline, ...(netns === undefined ? {} : { netnsFd: netns }) });
    } finally {
      if (netns !== undefined) closeSync(netns); // the job's processes hold it now
    }
    let gone = false;
    const exited = new Promise<number>((resolve) =>
      this.waiting.set(p.pidfd, (status) => {
        gone = true;
        resolve(status);
      }),
    );
    ffi.watchAdd(p.pidfd);
    let start: ((f: SetupFailure | undefined) => void) | undefined;
    const started = new Promise<SetupFailure | undefined>((resolve) => (start = resolve));
    const reported = readReports(p.reportFd, (stage, errno, record) => {
      if (start) {
        start(stage === EVENT_RUNNING ? undefined : describeReport(record, spec));
        start = undefined;
      } else if (stage === EVENT_LOG_TRUNCATED) onEvent({ kind: "LOG_TRUNCATED" });
      else if (stage === EVENT_LOG_FAILED) onEvent({ kind: "LOG_FAILED", message: strerror(errno) });
      else if (stage === EVENT_ORPHANED) onEvent({ kind: "ORPHANED" });
    }).then(() => start?.(describeReport(new Uint8Array(0), spec)));
    return {
      pid: p.pid,
      started,
      exited,
      reported,
      signal: (sig) => !gone && ffi.signal(p.pidfd, SIGNALS[sig] ?? 15),
    };
  }
}
