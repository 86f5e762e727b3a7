// Typed bindings to libjoblet.so: the only module that touches bun:ffi. The library and
// joblet-init are embedded in the compiled executable; Bun extracts the library to $TMPDIR.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { readFileSync } from "node:fs";
import initPath from "../../csrc/joblet-init" with { type: "file" };
import libraryPath from "../../csrc/libjoblet.so" with { type: "file" };
import { encodeSpec, type SpawnSpec } from "./spec";

/** Must equal JOBLET_ABI_VERSION in csrc/joblet.h. */
export const EXPECTED_ABI_VERSION = 6;

const symbols = {
  joblet_abi_version: { args: [], returns: FFIType.i32 },
  joblet_spawner_start: { args: [FFIType.i32], returns: FFIType.i32 },
  joblet_spawn_submit: { args: [FFIType.ptr, FFIType.u64, FFIType.u32], returns: FFIType.i32 },
  joblet_sealed_memfd: { args: [FFIType.cstring, FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  joblet_signal: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  joblet_reap: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  joblet_watch_start: { args: [], returns: FFIType.i32 },
  joblet_watch_add: { args: [FFIType.i32], returns: FFIType.i32 },
  joblet_lifeline: { args: [], returns: FFIType.i32 },
  joblet_netns_pool_start: { args: [FFIType.i32], returns: FFIType.i32 },
  joblet_netns_take: { args: [], returns: FFIType.i32 },
} as const;

type Library = ReturnType<typeof dlopen<typeof symbols>>;
let library: Library | undefined;

function lib(): Library {
  library ??= dlopen(libraryPath, symbols);
  return library;
}

export function abiVersion(): number {
  return lib().symbols.joblet_abi_version();
}

/** Loads the library and checks its ABI; throws an actionable error on a mismatch. */
export function checkLibrary(): void {
  let found: number;
  try {
    found = abiVersion();
  } catch (e) {
    throw new Error(`cannot load libjoblet (${libraryPath}): ${(e as Error).message}`);
  }
  if (found !== EXPECTED_ABI_VERSION) {
    throw new Error(`libjoblet ABI ${found} does not match the daemon's ${EXPECTED_ABI_VERSION}: rebuild with \`npm run build\``);
  }
}

/** A negative errno from libjoblet as an Error with the errno name (ESRCH, EPERM, …). */
export class ErrnoError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

const ERRNO_NAMES: Record<number, string> = { 1: "EPERM", 2: "ENOENT", 3: "ESRCH", 9: "EBADF", 12: "ENOMEM", 13: "EACCES", 22: "EINVAL", 24: "EMFILE", 28: "ENOSPC" };

function check(rc: number, what: string): number {
  if (rc < 0) throw new ErrnoError(-rc, `${what}: ${ERRNO_NAMES[-rc] ?? `errno ${-rc}`}`);
  return rc;
}

export interface SpawnedProcess {
  pid: number;
  pidfd: number;
  /** joblet_report records: a setup failure, or RUNNING then events; EOF when init exits */
  reportFd: number;
}

const SPAWN_RESULT_SIZE = 256; // struct joblet_spawn_result

/**
 * Starts jobs on libjoblet's spawner threads (csrc/spawner.c), so the event loop never waits
 * while a child builds its sandbox. The fds a spec names (log, cgroup, netns, …) must stay open
 * until its promise settles.
 */
export class Spawner {
  private readonly pending = new Map<number, { resolve: (p: SpawnedProcess) => void; reject: (e: Error) => void }>();
  private nextToken = 1;

  constructor(threads: number) {
    void this.results(check(lib().symbols.joblet_spawner_start(threads), "spawner threads"));
  }

  /** Resolves once the job's init runs; rejects (ErrnoError, libjoblet's message) on failures before clone. */
  spawn(spec: SpawnSpec): Promise<SpawnedProcess> {
    const buf = encodeSpec(spec);
    const token = this.nextToken;
    this.nextToken = (this.nextToken % 0xffff_fffe) + 1;
    return new Promise((resolve, reject) => {
      this.pending.set(token, { resolve, reject });
      const rc = lib().symbols.joblet_spawn_submit(ptr(buf), buf.length, token);
      if (rc < 0) {
        this.pending.delete(token);
        reject(new ErrnoError(-rc, `spawn: ${ERRNO_NAMES[-rc] ?? `errno ${-rc}`}`));
      }
    });
  }

  private async results(fd: number): Promise<void> {
    let pending = Buffer.alloc(0);
    for await (const chunk of Bun.file(fd).stream()) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
      while (pending.length >= SPAWN_RESULT_SIZE) {
        const r = pending.subarray(0, SPAWN_RESULT_SIZE);
        pending = pending.subarray(SPAWN_RESULT_SIZE);
        const waiter = this.pending.get(r.readUInt32LE(0));
        this.pending.delete(r.readUInt32LE(0));
        const rc = r.readInt32LE(4);
        if (rc < 0) {
          const text = r.subarray(20);
          const msg = text.subarray(0, Math.max(0, text.indexOf(0))).toString();
          waiter?.reject(new ErrnoError(-rc, msg || `spawn failed: errno ${-rc}`));
        } else waiter?.resolve({ pid: r.readInt32LE(8), pidfd: r.readInt32LE(12), reportFd: r.readInt32LE(16) });
      }
    }
  }
}

/** Sends a signal through a pidfd; false if the process is already gone. */
export function signal(pidfd: number, sig: number): boolean {
  const rc = lib().symbols.joblet_signal(pidfd, sig);
  if (rc === -3) return false; // ESRCH
  check(rc, "pidfd_send_signal");
  return true;
}

/** The exit status (code, or 128 + signal) if the process has exited, else undefined. */
export function reap(pidfd: number): number | undefined {
  const status = new Int32Array(1);
  const rc = check(lib().symbols.joblet_reap(pidfd, ptr(status)), "waitid");
  return rc === 1 ? status[0]! : undefined;
}

export function watchStart(): number {
  return check(lib().symbols.joblet_watch_start(), "exit watcher");
}

export function watchAdd(pidfd: number): void {
  check(lib().symbols.joblet_watch_add(pidfd), "exit watcher");
}

/** joblet-init (embedded in the executable) in a sealed memfd, for the jobs' PID 1. */
export function initMemfd(): number {
  const bytes = new Uint8Array(readFileSync(initPath));
  return check(lib().symbols.joblet_sealed_memfd(Buffer.from("joblet-init\0"), ptr(bytes), bytes.length), "memfd for joblet-init");
}

/** The read end of the daemon's lifeline pipe, for every job's init (see csrc/joblet.h). */
export function lifeline(): number {
  return check(lib().symbols.joblet_lifeline(), "lifeline pipe");
}

/** Keeps `size` empty network namespaces ready (see csrc/netns.c). */
export function netnsPoolStart(size: number): void {
  check(lib().symbols.joblet_netns_pool_start(size), "network namespace pool");
}

/** A ready network namespace fd from the pool, or undefined when it is empty. */
export function netnsTake(): number | undefined {
  const fd = lib().symbols.joblet_netns_take();
  return fd >= 0 ? fd : undefined;
}
