// What this host's cgroups look like from the daemon: the mounted hierarchies (v1 per
// controller, the unified v2 one), the daemon's own place in each, and small file helpers.
import { readFileSync, writeFileSync } from "node:fs";
import { readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const CONTROLLERS = ["cpu", "memory", "io", "pids", "cpuset"] as const;
export type Controller = (typeof CONTROLLERS)[number];

export interface Hierarchies {
  /** v1 mount point per controller name (cpu, cpuacct, cpuset, memory, blkio, pids, freezer) */
  v1: Map<string, string>;
  /** the cgroup2 mount point, if any */
  unified?: string;
  /** the daemon's cgroup path in each v1 hierarchy (by controller) and in the unified one ("") */
  own: Map<string, string>;
}

/** Reads /proc/self/mountinfo and /proc/self/cgroup. */
export function readHierarchies(mountinfo = readFileSync("/proc/self/mountinfo", "utf8"), procCgroup = readFileSync("/proc/self/cgroup", "utf8")): Hierarchies {
  const v1 = new Map<string, string>();
  let unified: string | undefined;
  for (const line of mountinfo.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const mountPoint = pre.split(" ")[4]!;
    const [fstype, , superOpts = ""] = post.split(" ");
    if (fstype === "cgroup2") unified ??= mountPoint;
    else if (fstype === "cgroup") {
      for (const opt of superOpts.split(",")) if (!opt.startsWith("name=") && !["rw", "ro"].includes(opt) && !v1.has(opt)) v1.set(opt, mountPoint);
    }
  }
  const own = new Map<string, string>();
  for (const line of procCgroup.trim().split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === "0" && m[2] === "") own.set("", m[3]!);
    else for (const c of m[2]!.split(",")) own.set(c, m[3]!);
  }
  return { v1, unified, own };
}

export function read(dir: string, file: string): string {
  return readFileSync(join(dir, file), "utf8").trim();
}

export function readOptional(dir: string, file: string): string | undefined {
  try {
    return read(dir, file);
  } catch {
    return undefined;
  }
}

/** readOptional(), off the event loop. */
export async function readOptionalAsync(dir: string, file: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dir, file), "utf8")).trim();
  } catch {
    return undefined;
  }
}

export function write(dir: string, file: string, value: string): void {
  try {
    writeFileSync(join(dir, file), value);
  } catch (e) {
    throw new Error(`cgroup ${join(dir, file)} <- "${value}": ${(e as Error).message}`);
  }
}

/** write(), off the event loop: cgroup files take the kernel's cgroup lock, which other jobs' starts and ends hold. */
export async function writeAsync(dir: string, file: string, value: string): Promise<void> {
  try {
    await writeFile(join(dir, file), value);
  } catch (e) {
    throw new Error(`cgroup ${join(dir, file)} <- "${value}": ${(e as Error).message}`);
  }
}

/** "key value" lines (cpu.stat, memory.events, memory.oom_control) as numbers. */
export function keyed(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** How long a previous daemon's leftover jobs get to end by themselves before they are killed. */
export const STALE_GRACE_MS = 2000;

/** Waits up to `timeoutMs` for a cgroup to have no processes; true if it emptied. A previous
 * daemon's jobs end by themselves once its lifeline is gone (their init drains the output into
 * the log first): killing them at once could cut that short. */
export async function emptied(dir: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const procs = readOptional(dir, "cgroup.procs");
    if (!procs) return true;
    if (Date.now() > end) return false;
    await Bun.sleep(20);
  }
}

/** rmdir (off the event loop), retried while the kernel still counts exiting tasks in it. */
export async function removeDir(dir: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await rmdir(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EBUSY" || Date.now() > end) throw new Error(`cannot remove cgroup ${dir}: ${code}`);
      await Bun.sleep(20);
    }
  }
}

/** The CPUs that exist (online), from /sys/devices/system/cpu/online ("0-1"). */
export function onlineCpus(text = readOptional("/sys/devices/system/cpu", "online") ?? "0"): number[] {
  return parseCpuList(text) ?? [0];
}

/** "0-3,5" → [0,1,2,3,5]; undefined if malformed. */
export function parseCpuList(list: string): number[] | undefined {
  const out = new Set<number>();
  for (const part of list.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 4096) return undefined;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

