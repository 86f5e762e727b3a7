// What every cgroup driver provides: per-job cgroups with limits, their usage, OOM detection,
// killing, removal, and cleaning what a previous daemon left behind.
import type { Controller } from "./hierarchy";

/** A job's resource limits; 0 / "" means none. */
export interface JobLimits {
  /** percent of one CPU (100 = one core) */
  cpuPercent: number;
  /** "0-3", "1,3,5" */
  cpuCores: string;
  memoryMb: number;
  /** bytes per second, read and write, on the workspace's block device */
  ioBps: number;
  pids: number;
}

export interface CgroupStats {
  /** CPU time used, ns */
  cpuNs: number;
  memoryBytes: number;
  /** 0 = none */
  memoryLimit: number;
  ioReadBytes: number;
  ioWriteBytes: number;
  pids: number;
}

export interface JobCgroup {
  /** cgroup.procs files the job's first process writes itself into (v1 hierarchies) */
  readonly procsFiles: string[];
  /** an O_DIRECTORY fd of its cgroup2 directory: the job is born there (CLONE_INTO_CGROUP) */
  readonly dirFd?: number;
  /** read off the event loop: each file waits for the kernel, which other jobs keep busy */
  stats(): Promise<CgroupStats>;
  /** true once the kernel OOM-killed a process of the job */
  oomKilled(): Promise<boolean>;
  /** kills every process in the job's cgroups */
  kill(): void;
  /** removes the job's cgroups (they must be empty) and closes dirFd */
  remove(): Promise<void>;
}

export interface CgroupDriver {
  readonly version: "v1" | "v2";
  /** controllers that can enforce limits here */
  readonly available: ReadonlySet<Controller>;
  /** for the start-up log: where job cgroups live and what can be enforced */
  describe(): string;
  /** creates the job's cgroups with its limits; `ioDevice` is "MAJ:MIN" of the workspace disk */
  create(uuid: string, limits: JobLimits, ioDevice?: string): Promise<JobCgroup>;
  /** kills and removes job cgroups left by an earlier run; returns how many */
  cleanStale(): Promise<number>;
  /** at shutdown, once every job cgroup is gone: removes the daemon's own cgroup directories */
  close(): Promise<void>;
}
