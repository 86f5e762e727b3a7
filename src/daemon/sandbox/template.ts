// What every job's sandbox is made of, worked out once from the configuration: the host paths
// bound read-only (runtime.allowed_mounts, merged-/usr aware), the masked /proc entries, the
// namespaces, the job user, rlimits and the default environment. specFor() adds one job's parts.
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { isAbsolute, normalize } from "node:path";
import type { ServerConfig } from "../../config/load";
import { Namespace, Rlimit, type SandboxSpec, type SpawnSpec } from "../../ffi/spec";
import type { Logger } from "../logging/logger";
import type { JobUser } from "./users";

/** Kernel interfaces a job has no business reading (runc's defaults, plus a few). */
export const MASKED_PATHS = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/proc/kmsg",
  "/proc/config.gz",
];
export const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
export const JOB_HOME = "/work";
const TMP_SIZE = "64m";

const min = (a: bigint, b: bigint) => (a < b ? a : b);

/** The daemon's own hard limit for a /proc/self/limits row ("Max open files"), if finite. */
function hardLimit(row: string): bigint | undefined {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith(row));
  const hard = line?.slice(row.length).trim().split(/\s+/)[1];
  return hard && /^\d+$/.test(hard) ? BigInt(hard) : undefined;
}

export interface MountPlan {
  binds: { src: string; dst: string }[];
  symlinks: { target: string; path: string }[];
}

/**
 * runtime.allowed_mounts as binds and symlinks. On merged-/usr systems /bin, /lib, /lib64 and
 * /sbin are symlinks into /usr: they become the same symlinks in the job. Other symlinks (e.g.
 * /etc/resolv.conf → /run/…) are bound from their real path. Missing paths are skipped: the
 * lists name paths of several distributions.
 */
export function planMounts(allowed: readonly string[], log?: Logger): MountPlan {
  const plan: MountPlan = { binds: [], symlinks: [] };
  for (const raw of allowed) {
    const path = normalize(raw).replace(/\/+$/, "") || "/";
    if (path === "/") {
      log?.warn("runtime.allowed_mounts: \"/\" is ignored (the whole host cannot be bound into a job)");
      continue;
    }
    let st;
    try {
      st = lstatSync(path);
    } catch {
      log?.debug("allowed mount not on this host, skipped", { path });
      continue;
    }
    if (st.isSymbolicLink()) {
      const target = readlinkSync(path);
      if (!isAbsolute(target) && !target.split("/").includes("..")) {
        plan.symlinks.push({ target, path });
        continue;
      }
      if (!existsSync(path)) continue; // dangling
      plan.binds.push({ src: realpathSync(path), dst: path });
      continue;
    }
    if (st.isDirectory() || st.isFile()) plan.binds.push({ src: path, dst: path });
  }
  // parents before children, so a nested bind lands inside its parent's bind
  plan.binds.sort((a, b) => a.dst.split("/").length - b.dst.split("/").length || a.dst.localeCompare(b.dst));
  return plan;
}

export interface JobSandbox {
  uuid: string;
  argv: string[];
  /** the job's own variables, secrets included, applied over the defaults */
  env: Record<string, string>;
  workspace: string;
  cwd: string;
}

export class SandboxTemplate {
  readonly mounts: MountPlan;
  private readonly namespaces: number;
  private readonly rlimits: SpawnSpec["rlimits"];

  constructor(
    private readonly config: ServerConfig,
    readonly user: JobUser,
    private readonly rootDir: string,
    private readonly initFd: number,
    log?: Logger,
  ) {
    this.mounts = planMounts(config.runtime.allowed_mounts, log);
    // no core dumps into the workspace; open files capped (never above the daemon's own hard
    // limit: raising one needs CAP_SYS_RESOURCE, which a host may not give even to root)
    const nofileHard = hardLimit("Max open files") ?? 65536n;
    this.rlimits = [
      { resource: Rlimit.CORE, soft: 0n, hard: 0n },
      { resource: Rlimit.NOFILE, soft: min(1024n, nofileHard), hard: min(65536n, nofileHard) },
    ];
    const ns = new Set(config.namespaces);
    this.namespaces =
      (ns.has("network") ? Namespace.NET : 0) | (ns.has("ipc") ? Namespace.IPC : 0) | (ns.has("uts") ? Namespace.UTS : 0) | (ns.has("cgroup") ? Namespace.CGROUP : 0);
  }

  hostname(uuid: string): string {
    return `job-${uuid.slice(0, 8)}`;
  }

  /** The environment a job starts with: the defaults, then its own variables (never the daemon's). */
  environment(job: JobSandbox): string[] {
    const env: Record<string, string> = {
      PATH: DEFAULT_PATH,
      HOME: JOB_HOME,
      HOSTNAME: this.hostname(job.uuid),
      USER: this.user.user,
      LOGNAME: this.user.user,
      TERM: "xterm",
      LANG: "C.UTF-8",
      JOBLET_JOB_ID: job.uuid,
      ...job.env,
    };
    return Object.entries(env).map(([k, v]) => `${k}=${v}`);
  }

  /** Files the job sees in /etc: its own user and group, nothing of the host's accounts. */
  private etcFiles(uuid: string): { path: string; content: string }[] {
    const u = this.user;
    const files = [
      { path: "/etc/passwd", content: `root:x:0:0:root:/root:/usr/sbin/nologin\n${u.user}:x:${u.uid}:${u.gid}:job user:${JOB_HOME}:/bin/sh\n` },
      { path: "/etc/group", content: `root:x:0:\n${u.group}:x:${u.gid}:\n` },
      { path: "/etc/hostname", content: `${this.hostname(uuid)}\n` },
    ];
    // a file under a bound directory would land in a read-only bind: the bind wins
    return files.filter((f) => !this.mounts.binds.some((b) => f.path === b.dst || f.path.startsWith(`${b.dst}/`)));
  }

  specFor(job: JobSandbox): SandboxSpec {
    return {
      argv: job.argv,
      env: this.environment(job),
      root: this.rootDir,
      binds: [...this.mounts.binds, { src: job.workspace, dst: JOB_HOME, writable: true }],
      symlinks: this.mounts.symlinks,
      files: this.etcFiles(job.uuid),
      cwd: job.cwd,
      hostname: this.hostname(job.uuid),
      uid: this.user.uid,
      gid: this.user.gid,
      tmpOptions: `size=${TMP_SIZE},mode=1777`,
      cgroupProcs: [],
      namespaces: this.namespaces,
      rlimits: this.rlimits,
      initFd: this.initFd,
      masks: MASKED_PATHS,
      readonly: READONLY_PATHS,
      rootWritable: !this.config.filesystem.readonly_rootfs,
    };
  }
}
