// cgroup v1 (legacy and hybrid hosts): one directory per job in each controller's hierarchy,
// nested under the daemon's own cgroup there: cpu (CFS quota), cpuacct, cpuset (cpus and mems,
// parents filled first), memory (limit, and memsw so it cannot swap), blkio (throttle read and
// write bps), pids, freezer (to kill without races). The job's first process writes itself into
// each before it runs anything. Each daemon has its own directory (joblet-<port>) in each hierarchy. Where a controller-less cgroup2 is mounted too, the job also
// gets a cgroup there: it is born in it (CLONE_INTO_CGROUP), and cgroup.kill empties it.
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { CgroupDriver, CgroupStats, JobCgroup, JobLimits } from "./driver";
import { emptied, keyed, read, readOptional, readOptionalAsync, removeDir, STALE_GRACE_MS, write, writeAsync, type Controller, type Hierarchies } from "./hierarchy";
import { CPU_PERIOD_US } from "./v2";

/** v1 hierarchy names and the limit controller each serves. */
const V1: Record<string, Controller | undefined> = { cpu: "cpu", cpuacct: undefined, cpuset: "cpuset", memory: "memory", blkio: "io", pids: "pids", freezer: undefined };

export class CgroupV1Driver implements CgroupDriver {
  readonly version = "v1" as const;
  readonly available: ReadonlySet<Controller>;
  /** jobs' parent directory per v1 hierarchy (keyed by v1 controller name) */
  private readonly roots = new Map<string, string>();
  /** jobs' parent directory in the controller-less unified hierarchy, if mounted */
  private readonly unifiedRoot?: string;

  /** `accounting`: join the counting hierarchies (cpuacct, memory, blkio, pids) even without limits */
  /**
   * `parentOf(hierarchy)`: the directory this daemon's job directory goes in (its own cgroup
   * there, or a delegated baseDir); `unifiedParent`: the same in the controller-less cgroup2
   */
  constructor(
    h: Hierarchies,
    parentOf: (hierarchy: string) => string,
    unifiedParent: string | undefined,
    name: string,
    wanted: readonly Controller[],
    private readonly accounting = true,
  ) {
    const available = new Set<Controller>();
    const seen = new Set<string>();
    for (const [hierarchy, controller] of Object.entries(V1)) {
      const mount = h.v1.get(hierarchy);
      if (!mount) continue;
      if (controller && !wanted.includes(controller)) continue;
      const root = join(parentOf(hierarchy), name);
      if (!seen.has(root)) {
        mkdirSync(root, { recursive: true });
        seen.add(root);
      }
      if (hierarchy === "cpuset") {
        // A new v1 cpuset starts empty; tasks cannot join until cpus and mems are filled.
        const parent = join(root, "..");
        if (!read(root, "cpuset.cpus")) write(root, "cpuset.cpus", read(parent, "cpuset.cpus"));
        if (!read(root, "cpuset.mems")) write(root, "cpuset.mems", read(parent, "cpuset.mems"));
      }
      this.roots.set(hierarchy, root);
      if (controller) available.add(controller);
    }
    if (unifiedParent) {
      this.unifiedRoot = join(unifiedParent, name);
      mkdirSync(this.unifiedRoot, { recursive: true });
    }
    this.available = available;
  }

  describe(): string {
    const where = [...new Set(this.roots.values())].join(", ");
    return `v1 in ${where}${this.unifiedRoot ? ` (+ ${this.unifiedRoot} for kill and ids)` : ""}: ${[...this.available].join(",") || "no controllers"}`;
  }

  /**
   * The hierarchies a job joins: those that enforce one of its limits, those that count what the
   * metrics report, and the freezer when there is no cgroup.kill. Each join is a migration, so a
   * job with fewer limits starts faster.
   */
  private needed(limits: JobLimits, accounting: boolean): string[] {
    const want = new Set<string>();
    if (limits.cpuPercent > 0) want.add("cpu");
    if (limits.cpuCores) want.add("cpuset");
    if (limits.memoryMb > 0 || accounting) want.add("memory");
    if (limits.ioBps > 0 || accounting) want.add("blkio");
    if (limits.pids > 0 || accounting) want.add("pids");
    if (accounting) want.add("cpuacct");
    if (!this.unifiedRoot) want.add("freezer");
    return [...this.roots.keys()].filter((h) => want.has(h));
  }

  async create(uuid: string, limits: JobLimits, ioDevice?: string): Promise<JobCgroup> {
    const dirs = new Map<string, string>();
    for (const name of this.needed(limits, this.accounting)) dirs.set(name, join(this.roots.get(name)!, `job-${uuid}`));
    const unified = this.unifiedRoot ? join(this.unifiedRoot, `job-${uuid}`) : undefined;
    const all = [...new Set([...dirs.values(), ...(unified ? [unified] : [])])];
    // Each step waits for the kernel's cgroup lock: every directory at once, then every
    // controller's settings at once (in order within a controller).
    const made = await Promise.allSettled(all.map((d) => mkdir(d)));
    const created = all.filter((_, i) => made[i]!.status === "fulfilled");
    try {
      const failure = made.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failure) throw failure.reason;
      const settings: (() => Promise<void>)[] = [];
      const cpu = dirs.get("cpu");
      if (cpu) {
        settings.push(async () => {
          await writeAsync(cpu, "cpu.cfs_period_us", String(CPU_PERIOD_US));
          if (limits.cpuPercent > 0) await writeAsync(cpu, "cpu.cfs_quota_us", String(Math.round((limits.cpuPercent * CPU_PERIOD_US) / 100)));
        });
      }
      const cs = dirs.get("cpuset");
      if (cs) {
        settings.push(() => writeAsync(cs, "cpuset.cpus", limits.cpuCores || read(join(cs, ".."), "cpuset.cpus")));
        settings.push(() => writeAsync(cs, "cpuset.mems", read(join(cs, ".."), "cpuset.mems")));
      }
      const m = dirs.get("memory");
      if (m && limits.memoryMb > 0) {
        const bytes = String(limits.memoryMb * 1024 * 1024);
        settings.push(async () => {
          await writeAsync(m, "memory.limit_in_bytes", bytes);
          if (existsSync(join(m, "memory.memsw.limit_in_bytes"))) await writeAsync(m, "memory.memsw.limit_in_bytes", bytes); // no swap beyond it
        });
      }
      const blkio = dirs.get("blkio");
      if (blkio && limits.ioBps > 0 && ioDevice) {
        settings.push(() => writeAsync(blkio, "blkio.throttle.read_bps_device", `${ioDevice} ${limits.ioBps}`));
        settings.push(() => writeAsync(blkio, "blkio.throttle.write_bps_device", `${ioDevice} ${limits.ioBps}`));
      }
      const pids = dirs.get("pids");
      if (pids && limits.pids > 0) settings.push(() => writeAsync(pids, "pids.max", String(limits.pids)));
      await Promise.all(settings.map((set) => set()));
      return new V1JobCgroup(dirs, all, unified);
    } catch (e) {
      for (const d of created.reverse()) void removeDir(d);
      throw e;
    }
  }

  async close(): Promise<void> {
    const roots = [...new Set(this.roots.values())];
    if (this.unifiedRoot) roots.push(this.unifiedRoot);
    await Promise.all(roots.map((r) => removeDir(r)));
  }

  async cleanStale(): Promise<number> {
    let n = 0;
    const roots = [...new Set(this.roots.values())];
    if (this.unifiedRoot) roots.push(this.unifiedRoot);
    for (const root of roots) {
      for (const name of readdirSync(root)) {
        if (!name.startsWith("job-")) continue;
        const dir = join(root, name);
        if (!(await emptied(dir, STALE_GRACE_MS))) killAll(dir);
        await removeDir(dir, 10_000);
        n++;
      }
    }
    return n;
  }
}

/** Kills every task listed in a v1 cgroup, by pid (the caller froze it or its init is gone). */
function killAll(dir: string): void {
  if (existsSync(join(dir, "cgroup.kill"))) return write(dir, "cgroup.kill", "1");
  for (const pid of (readOptional(dir, "cgroup.procs") ?? "").split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** blkio.throttle.io_service_bytes: "MAJ:MIN Read N" / "MAJ:MIN Write N" lines. */
export function blkioBytes(text: string | undefined): { read: number; write: number } {
  let r = 0;
  let w = 0;
  for (const m of (text ?? "").matchAll(/^\S+ (Read|Write) (\d+)$/gm)) {
    if (m[1] === "Read") r += Number(m[2]);
    else w += Number(m[2]);
  }
  return { read: r, write: w };
}

class V1JobCgroup implements JobCgroup {
  readonly procsFiles: string[];
  readonly dirFd?: number;

  constructor(
    private readonly dirs: Map<string, string>,
    private readonly all: string[],
    private readonly unified?: string,
  ) {
    this.procsFiles = [...new Set(dirs.values())].map((d) => join(d, "cgroup.procs"));
    if (unified) this.dirFd = openSync(unified, constants.O_RDONLY | constants.O_DIRECTORY);
  }

  private file(name: string, file: string): Promise<string | undefined> {
    const d = this.dirs.get(name);
    return d ? readOptionalAsync(d, file) : Promise.resolve(undefined);
  }

  async stats(): Promise<CgroupStats> {
    const [limitText, ioText, cpu, memory, pids] = await Promise.all([
      this.file("memory", "memory.limit_in_bytes"),
      this.file("blkio", "blkio.throttle.io_service_bytes"),
      this.file("cpuacct", "cpuacct.usage"),
      this.file("memory", "memory.usage_in_bytes"),
      this.file("pids", "pids.current"),
    ]);
    const limit = Number(limitText ?? 0);
    const io = blkioBytes(ioText);
    return {
      cpuNs: Number(cpu ?? 0),
      memoryBytes: Number(memory ?? 0),
      memoryLimit: limit >= 2 ** 62 ? 0 : limit, // "unlimited" is a huge page-aligned number in v1
      ioReadBytes: io.read,
      ioWriteBytes: io.write,
      pids: Number(pids ?? 0),
    };
  }

  async oomKilled(): Promise<boolean> {
    return (keyed(await this.file("memory", "memory.oom_control")).get("oom_kill") ?? 0) > 0;
  }

  kill(): void {
    if (this.unified) return write(this.unified, "cgroup.kill", "1");
    const freezer = this.dirs.get("freezer");
    if (freezer) write(freezer, "freezer.state", "FROZEN"); // no new forks while we kill
    for (const d of new Set(this.dirs.values())) killAll(d);
    if (freezer) write(freezer, "freezer.state", "THAWED");
  }

  async remove(): Promise<void> {
    if (this.dirFd !== undefined) closeSync(this.dirFd);
    const procs = await Promise.all(this.all.map((d) => readOptionalAsync(d, "cgroup.procs")));
    this.all.forEach((d, i) => procs[i] && killAll(d));
    await Promise.all(this.all.map((d) => removeDir(d)));
  }
}
