// cgroup v2 (unified): per job cpu.max, memory.max and swap.max, io.max, cpuset.cpus,
// pids.max; the job is born in its cgroup (CLONE_INTO_CGROUP) and killed with cgroup.kill.
// Job cgroups live in <daemon's cgroup>/joblet-<port>; the daemon moves itself into a "daemon" leaf
// next to it when it is not in the root cgroup (v2 allows no processes beside child cgroups).
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { CgroupDriver, CgroupStats, JobCgroup, JobLimits } from "./driver";
import { CONTROLLERS, emptied, keyed, read, readOptional, readOptionalAsync, removeDir, STALE_GRACE_MS, write, writeAsync, type Controller } from "./hierarchy";

export const CPU_PERIOD_US = 100_000;

/** The unified hierarchy's usable controllers at `dir` (from cgroup.controllers). */
export function v2Controllers(dir: string): Set<Controller> {
  const listed = new Set((readOptional(dir, "cgroup.controllers") ?? "").split(/\s+/));
  return new Set(CONTROLLERS.filter((c) => listed.has(c)));
}

export class CgroupV2Driver implements CgroupDriver {
  readonly version = "v2" as const;
  readonly available: ReadonlySet<Controller>;
  private readonly jobsRoot: string;
  private readonly enabled: Controller[];

  /**
   * `parent`: where this daemon's job directory goes (its own cgroup, or a delegated baseDir);
   * `moveSelf`: the daemon is in `parent` and must leave it for a leaf first; `name`: this
   * daemon's directory for jobs; `wanted`: cgroup.enableControllers
   */
  constructor(
    private readonly own: string,
    private readonly moveSelf: boolean,
    name: string,
    wanted: readonly Controller[],
  ) {
    const present = v2Controllers(own);
    const enable = wanted.filter((c) => present.has(c));
    this.enabled = enable;
    if (moveSelf) {
      // No internal processes: the daemon leaves its cgroup for a leaf of its own first.
      const leaf = join(own, "daemon");
      mkdirSync(leaf, { recursive: true });
      writeFileSync(join(leaf, "cgroup.procs"), String(process.pid));
    }
    if (enable.length) write(own, "cgroup.subtree_control", enable.map((c) => `+${c}`).join(" "));
    this.jobsRoot = join(own, name);
    mkdirSync(this.jobsRoot, { recursive: true });
    if (enable.length) write(this.jobsRoot, "cgroup.subtree_control", enable.map((c) => `+${c}`).join(" "));
    this.available = v2Controllers(this.jobsRoot);
  }

  describe(): string {
    return `v2 (unified) in ${this.jobsRoot}: ${[...this.available].join(",") || "no controllers"}`;
  }

  async create(uuid: string, limits: JobLimits, ioDevice?: string): Promise<JobCgroup> {
    const dir = join(this.jobsRoot, `job-${uuid}`);
    await mkdir(dir);
    // the settings at once: each write waits for the kernel's cgroup lock
    const settings: Promise<void>[] = [];
    if (limits.cpuPercent > 0) settings.push(writeAsync(dir, "cpu.max", `${Math.round((limits.cpuPercent * CPU_PERIOD_US) / 100)} ${CPU_PERIOD_US}`));
    if (limits.cpuCores) settings.push(writeAsync(dir, "cpuset.cpus", limits.cpuCores));
    if (limits.memoryMb > 0) {
      settings.push(writeAsync(dir, "memory.max", String(limits.memoryMb * 1024 * 1024)));
      // No memory.high: without swap, a job held at 90% is throttled in reclaim for as long as it
      // keeps allocating (minutes in the VM test) instead of being OOM-killed at its limit.
      if (existsSync(join(dir, "memory.swap.max"))) settings.push(writeAsync(dir, "memory.swap.max", "0"));
    }
    if (limits.ioBps > 0 && ioDevice) settings.push(writeAsync(dir, "io.max", `${ioDevice} rbps=${limits.ioBps} wbps=${limits.ioBps}`));
    if (limits.pids > 0) settings.push(writeAsync(dir, "pids.max", String(limits.pids)));
    const failure = (await Promise.allSettled(settings)).find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure) {
      void removeDir(dir);
      throw failure.reason;
    }
    return new V2JobCgroup(dir);
  }

  async close(): Promise<void> {
    await removeDir(this.jobsRoot);
    if (!this.moveSelf) return;
    // back to where the daemon started, leaving the cgroup as it found it
    if (this.enabled.length) write(this.own, "cgroup.subtree_control", this.enabled.map((c) => `-${c}`).join(" "));
    write(this.own, "cgroup.procs", String(process.pid));
    await removeDir(join(this.own, "daemon"));
  }

  async cleanStale(): Promise<number> {
    let n = 0;
    for (const name of readdirSync(this.jobsRoot)) {
      if (!name.startsWith("job-")) continue;
      const dir = join(this.jobsRoot, name);
      if (!(await emptied(dir, STALE_GRACE_MS)) && existsSync(join(dir, "cgroup.kill"))) write(dir, "cgroup.kill", "1");
      await removeDir(dir, 10_000);
      n++;
    }
    return n;
  }
}

/** io.stat: "MAJ:MIN rbytes=… wbytes=… rios=…" per device. */
export function ioBytes(ioStat: string | undefined): { read: number; write: number } {
  let r = 0;
  let w = 0;
  for (const m of (ioStat ?? "").matchAll(/rbytes=(\d+)|wbytes=(\d+)/g)) {
    if (m[1]) r += Number(m[1]);
    if (m[2]) w += Number(m[2]);
  }
  return { read: r, write: w };
}

class V2JobCgroup implements JobCgroup {
  readonly procsFiles: string[] = [];
  readonly dirFd: number;

  constructor(private readonly dir: string) {
    this.dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  }

  async stats(): Promise<CgroupStats> {
    const [max, ioStat, cpu, memory, pids] = await Promise.all(["memory.max", "io.stat", "cpu.stat", "memory.current", "pids.current"].map((f) => readOptionalAsync(this.dir, f)));
    const io = ioBytes(ioStat);
    return {
      cpuNs: (keyed(cpu).get("usage_usec") ?? 0) * 1000,
      memoryBytes: Number(memory ?? 0),
      memoryLimit: max && max !== "max" ? Number(max) : 0,
      ioReadBytes: io.read,
      ioWriteBytes: io.write,
      pids: Number(pids ?? 0),
    };
  }

  async oomKilled(): Promise<boolean> {
    return (keyed(await readOptionalAsync(this.dir, "memory.events")).get("oom_kill") ?? 0) > 0;
  }

  kill(): void {
    write(this.dir, "cgroup.kill", "1");
  }

  async remove(): Promise<void> {
    closeSync(this.dirFd);
    if (await readOptionalAsync(this.dir, "cgroup.procs")) this.kill();
    await removeDir(this.dir);
  }
}
