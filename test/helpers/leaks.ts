// Everything a daemon could leak, seen from outside (procfs, cgroupfs, its directories): its
// memory, its open fds by kind, its threads, the job cgroups below its joblet-<port> directories
// in every hierarchy, mounts, workspaces, files in its tmp, log and metrics directories, job
// processes still alive and zombie children. snapshot() takes one; diff() names what grew;
// settle() waits (bounded) for a daemon to come back to a baseline, since a job's cgroups and
// workspace are removed just after its end is recorded.
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parse } from "yaml";

/** What to look at: the daemon's pid and the places its configuration names. */
export interface LeakScope {
  pid: number;
  /** server.port: the daemon's cgroup directories are joblet-<port> */
  port: number;
  /** filesystem.baseDir (one directory per job) */
  baseDir: string;
  /** filesystem.tmpDir */
  tmpDir: string;
  /** persist.storage.local.logs.directory and metrics.directory */
  logsDir?: string;
  metricsDir?: string;
  /** cgroup.baseDir (a v2 path, looked up in every hierarchy as the daemon does) */
  cgroupBaseDir?: string;
}

/** The scope of a test daemon (helpers/daemon.ts), read from its configuration file. */
export function scopeOf(d: { pid: number; port: number; configPath: string }): LeakScope {
  const c = parse(readFileSync(d.configPath, "utf8")) as {
    filesystem: { baseDir: string; tmpDir: string };
    persist?: { storage?: { local?: { logs?: { directory?: string }; metrics?: { directory?: string } } } };
    cgroup?: { baseDir?: string };
  };
  return {
    pid: d.pid,
    port: d.port,
    baseDir: c.filesystem.baseDir,
    tmpDir: c.filesystem.tmpDir,
    logsDir: c.persist?.storage?.local?.logs?.directory,
    metricsDir: c.persist?.storage?.local?.metrics?.directory,
    cgroupBaseDir: c.cgroup?.baseDir ?? "/sys/fs/cgroup/joblet.slice",
  };
}

export type FdKind = "file" | "dir" | "cgroup" | "dev" | "pipe" | "socket" | "pidfd" | "memfd" | "netns" | "eventfd" | "eventpoll" | "inotify" | "signalfd" | "timerfd" | "anon" | "other";

export interface LeakProcess {
  pid: number;
  ppid: number;
  state: string;
  comm: string;
}

export interface Snapshot {
  /** ms since the epoch */
  at: number;
  rssKb: number;
  threads: number;
  /** open fds by kind: what each points to (readlink of /proc/<pid>/fd/N) */
  fds: Partial<Record<FdKind, string[]>>;
  /** job-* directories below the daemon's joblet-<port> in every hierarchy (v1 and unified) */
  cgroups: string[];
  /** the joblet-<port> directories themselves */
  cgroupRoots: string[];
  /** lines of /proc/<daemon>/mountinfo and /proc/self/mountinfo (informational: on a shared
   * host other processes mount and unmount too) */
  mountsDaemon: number;
  mountsSelf: number;
  /** the daemon's mounts that it or its jobs could have made: below one of its directories, a
   * job's own tmpfs names (jobroot, shm, masked), or namespace files (nsfs); "<point> <type> <source>" */
  mounts: string[];
  /** entries of filesystem.baseDir */
  workspaces: string[];
  /** every path below filesystem.tmpDir (relative) */
  tmpFiles: string[];
  logFiles: string[];
  metricFiles: string[];
  /** processes whose cgroup path contains the daemon's joblet-<port> */
  processes: LeakProcess[];
  /** the daemon's children, and those of them that are zombies */
  children: LeakProcess[];
  zombies: LeakProcess[];
}

function list(dir: string | undefined): string[] {
  if (!dir) return [];
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Every path below `dir`, relative to it (directories too), without following symlinks. */
function walk(dir: string, base = dir, out: string[] = []): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    out.push(relative(base, p));
    if (e.isDirectory()) walk(p, base, out);
  }
  return out.sort();
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function statusField(status: string, key: string): string | undefined {
  return new RegExp(`^${key}:\\s*(.*)$`, "m").exec(status)?.[1];
}

/** One process from /proc/<pid>/stat (undefined if it is gone). */
function proc(pid: number): LeakProcess | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const close = stat.lastIndexOf(")");
  const comm = stat.slice(stat.indexOf("(") + 1, close);
  const [state = "?", ppid = "0"] = stat.slice(close + 2).split(" ");
  return { pid, ppid: Number(ppid), state, comm };
}

function fdKind(target: string): FdKind {
  if (target.startsWith("pipe:")) return "pipe";
  if (target.startsWith("socket:")) return "socket";
  if (target.startsWith("net:")) return "netns";
  if (target === "anon_inode:[pidfd]") return "pidfd";
  if (target === "anon_inode:[eventfd]") return "eventfd";
  if (target === "anon_inode:[eventpoll]") return "eventpoll";
  if (target === "anon_inode:inotify") return "inotify";
  if (target === "anon_inode:[signalfd]") return "signalfd";
  if (target === "anon_inode:[timerfd]") return "timerfd";
  if (target.startsWith("anon_inode:")) return "anon";
  if (target.startsWith("/memfd:")) return "memfd";
  if (target.startsWith("/sys/fs/cgroup/")) return "cgroup";
  if (target.startsWith("/dev/")) return "dev";
  if (target.startsWith("/")) {
    try {
      return statSync(target.replace(/ \(deleted\)$/, "")).isDirectory() ? "dir" : "file";
    } catch {
      return "file"; // deleted
    }
  }
  return "other";
}

function fdsOf(pid: number): Partial<Record<FdKind, string[]>> {
  const out: Partial<Record<FdKind, string[]>> = {};
  for (const fd of list(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    (out[fdKind(target)] ??= []).push(target);
  }
  for (const k of Object.keys(out) as FdKind[]) out[k]!.sort();
  return out;
}

/** The cgroup mounts of this host: mount point and whether it is cgroup2, from mountinfo. */
function cgroupMounts(): { mount: string; v2: boolean; controllers: string[] }[] {
  const out: { mount: string; v2: boolean; controllers: string[] }[] = [];
  for (const line of (readText("/proc/self/mountinfo") ?? "").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const [fstype, , opts = ""] = post.split(" ");
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    out.push({ mount: pre.split(" ")[4]!, v2: fstype === "cgroup2", controllers: opts.split(",") });
  }
  return out;
}

/** The daemon's joblet-<port> directory candidates in every hierarchy: below its own cgroup (or
 * that cgroup's parent, when a v2 daemon moved itself into a "daemon" leaf) and below cgroup.baseDir. */
export function cgroupRootsOf(scope: LeakScope): string[] {
  const own = new Map<string, string>();
  for (const line of (readText(`/proc/${scope.pid}/cgroup`) ?? "").trim().split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === "0" && m[2] === "") own.set("", m[3]!);
    else for (const c of m[2]!.split(",")) own.set(c, m[3]!);
  }
  const name = `joblet-${scope.port}`;
  const rel = scope.cgroupBaseDir ? relative("/sys/fs/cgroup", scope.cgroupBaseDir) : "";
  const roots = new Set<string>();
  for (const { mount, v2, controllers } of cgroupMounts()) {
    const path = v2 ? own.get("") : controllers.map((c) => own.get(c)).find((p) => p !== undefined);
    const candidates: string[] = [];
    if (path !== undefined) {
      candidates.push(join(mount, path, name));
      if (path.endsWith("/daemon")) candidates.push(join(mount, path, "..", name));
    }
    if (rel && !rel.startsWith("..")) candidates.push(join(mount, rel, name));
    for (const c of candidates) {
      try {
        if (statSync(c).isDirectory()) roots.add(c);
      } catch {
        // not there
      }
    }
  }
  return [...roots].sort();
}

/** Processes whose cgroup (any hierarchy) is below a joblet-<port> directory of the daemon. */
function jobProcesses(scope: LeakScope): LeakProcess[] {
  const marker = `/joblet-${scope.port}/`;
  const out: LeakProcess[] = [];
  for (const entry of list("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === scope.pid) continue;
    const cg = readText(`/proc/${pid}/cgroup`);
    if (!cg?.includes(marker)) continue;
    const p = proc(pid);
    if (p) out.push(p);
  }
  return out;
}

function childrenOf(pid: number): LeakProcess[] {
  const out: LeakProcess[] = [];
  for (const task of list(`/proc/${pid}/task`)) {
    for (const c of (readText(`/proc/${pid}/task/${task}/children`) ?? "").trim().split(/\s+/)) {
      if (!c) continue;
      const p = proc(Number(c));
      if (p) out.push(p);
    }
  }
  return out;
}

/** Mount points in the daemon's mount namespace that can be the daemon's (see Snapshot.mounts). */
function attributableMounts(scope: LeakScope, mountinfo: string): string[] {
  const dirs = [scope.baseDir, scope.tmpDir, scope.logsDir, scope.metricsDir].filter((x): x is string => !!x);
  const out: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const point = pre.split(" ")[4]!.replace(/\\040/g, " ");
    const [fstype = "", source = ""] = post.split(" ");
    const below = dirs.some((d) => point === d || point.startsWith(`${d}/`));
    if (below || fstype === "nsfs" || ["jobroot", "shm", "masked"].includes(source)) out.push(`${point} ${fstype} ${source}`);
  }
  return out.sort();
}

export function snapshot(scope: LeakScope): Snapshot {
  const status = readText(`/proc/${scope.pid}/status`);
  if (!status) throw new Error(`daemon ${scope.pid} is gone`);
  const roots = cgroupRootsOf(scope);
  const children = childrenOf(scope.pid);
  const mountinfo = readText(`/proc/${scope.pid}/mountinfo`) ?? "";
  return {
    at: Date.now(),
    rssKb: Number.parseInt(statusField(status, "VmRSS") ?? "0", 10),
    threads: Number(statusField(status, "Threads") ?? 0),
    fds: fdsOf(scope.pid),
    cgroupRoots: roots,
    cgroups: roots.flatMap((r) => list(r).filter((n) => n.startsWith("job-")).map((n) => join(r, n))),
    mountsDaemon: mountinfo.trim().split("\n").length,
    mounts: attributableMounts(scope, mountinfo),
    mountsSelf: (readText("/proc/self/mountinfo") ?? "").trim().split("\n").length,
    workspaces: list(scope.baseDir),
    tmpFiles: walk(scope.tmpDir),
    logFiles: list(scope.logsDir),
    metricFiles: list(scope.metricsDir),
    processes: jobProcesses(scope),
    children,
    zombies: children.filter((c) => c.state === "Z"),
  };
}

export const fdCount = (s: Snapshot, kind?: FdKind): number => (kind ? (s.fds[kind]?.length ?? 0) : Object.values(s.fds).reduce((n, l) => n + l.length, 0));

/** Something that grew between two snapshots. */
export interface Growth {
  /** e.g. "fds.pipe", "cgroups", "rss" */
  what: string;
  before: number;
  after: number;
  /** what is new (up to a few items) */
  detail: string[];
}

export interface DiffOptions {
  /** RSS may grow by this many kB before it counts (default: RSS is not compared) */
  rssBoundKb?: number;
  /** threads may grow by this many (default 0) */
  threadSlack?: number;
  /** compare the whole mount tables' line counts too (default: only the daemon's own mounts, as
   * other processes on a shared host mount and unmount too) */
  mountCounts?: boolean;
  /** growth not to report, by name ("logFiles", "fds.pipe", …) */
  ignore?: string[];
}

const SHOWN = 5;

/** New members of `after` that `before` does not have (a multiset difference). */
function added(before: string[], after: string[]): string[] {
  const left = new Map<string, number>();
  for (const b of before) left.set(b, (left.get(b) ?? 0) + 1);
  const out: string[] = [];
  for (const a of after) {
    const n = left.get(a) ?? 0;
    if (n > 0) left.set(a, n - 1);
    else out.push(a);
  }
  return out;
}

/** What grew from `before` to `after` (by count: an fd replaced by another of its kind is not
 * growth), empty when nothing did. */
export function diff(before: Snapshot, after: Snapshot, opts: DiffOptions = {}): Growth[] {
  const all: Growth[] = [];
  const out = { push: (g: Growth) => opts.ignore?.includes(g.what) || all.push(g) };
  const grewList = (what: string, b: string[], a: string[]) => {
    const extra = added(b, a);
    if (a.length > b.length) out.push({ what, before: b.length, after: a.length, detail: extra.slice(0, SHOWN) });
  };
  const grewNumber = (what: string, b: number, a: number, slack = 0) => {
    if (a > b + slack) out.push({ what, before: b, after: a, detail: [] });
  };
  if (opts.rssBoundKb !== undefined) grewNumber("rssKb", before.rssKb, after.rssKb, opts.rssBoundKb);
  grewNumber("threads", before.threads, after.threads, opts.threadSlack ?? 0);
  const kinds = new Set([...Object.keys(before.fds), ...Object.keys(after.fds)] as FdKind[]);
  for (const k of [...kinds].sort()) grewList(`fds.${k}`, before.fds[k] ?? [], after.fds[k] ?? []);
  grewList("cgroups", before.cgroups, after.cgroups);
  grewList("cgroupRoots", before.cgroupRoots, after.cgroupRoots);
  grewList("mounts", before.mounts, after.mounts);
  if (opts.mountCounts) {
    grewNumber("mounts(daemon)", before.mountsDaemon, after.mountsDaemon);
    grewNumber("mounts(self)", before.mountsSelf, after.mountsSelf);
  }
  grewList("workspaces", before.workspaces, after.workspaces);
  grewList("tmpFiles", before.tmpFiles, after.tmpFiles);
  grewList("logFiles", before.logFiles, after.logFiles);
  grewList("metricFiles", before.metricFiles, after.metricFiles);
  const ps = (l: LeakProcess[]) => l.map((p) => `${p.pid} ${p.comm} (${p.state})`);
  grewList("processes", ps(before.processes), ps(after.processes));
  grewList("children", ps(before.children), ps(after.children));
  grewList("zombies", ps(before.zombies), ps(after.zombies));
  return all;
}

export function describeGrowth(g: Growth[]): string {
  return g.map((x) => `${x.what}: ${x.before} → ${x.after}${x.detail.length ? ` (new: ${x.detail.join(", ")})` : ""}`).join("\n");
}

/**
 * Takes snapshots until nothing grew compared with `baseline` (RSS aside, unless a bound is
 * given), or `timeoutMs` passed: the daemon removes a job's cgroups and workspace just after its
 * end is recorded, and its pool of network namespaces refills in the background. Returns the last
 * snapshot and what still grew (empty: back to the baseline).
 */
export async function settle(scope: LeakScope, baseline: Snapshot, opts: DiffOptions & { timeoutMs?: number } = {}): Promise<{ snapshot: Snapshot; growth: Growth[] }> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    const s = snapshot(scope);
    const growth = diff(baseline, s, opts);
    if (growth.length === 0 || Date.now() > deadline) return { snapshot: s, growth };
    await Bun.sleep(100);
  }
}

/** What a daemon that has exited left behind: its joblet-<port> cgroup directories (as found in
 * `last`, a snapshot taken while it ran) and processes still in them. Empty when it cleaned up. */
export function leftAfterExit(scope: LeakScope, last: Snapshot): string[] {
  const dirs = last.cgroupRoots.filter((r) => {
    try {
      return statSync(r).isDirectory();
    } catch {
      return false;
    }
  });
  return [...dirs, ...jobProcesses(scope).map((p) => `process ${p.pid} ${p.comm}`)];
}
