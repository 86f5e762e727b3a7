// A job's effective limits: the request's values, or the configured defaults, checked against
// this host (CPUs that exist, controllers that can enforce them, a block device for IO).
import { invalid, precondition } from "../../errors";
import type { CgroupDriver, JobLimits } from "./driver";
import { parseCpuList, type Controller } from "./hierarchy";

export interface LimitRequest {
  maxCpu: number;
  cpuCores: string;
  maxMemory: number;
  maxIoBps: number;
  maxPids: number;
}

export interface LimitDefaults {
  cpuPercent: number;
  memoryMb: number;
  ioBps: number;
  pids: number;
}

export interface Host {
  cpus: number[];
  /** "MAJ:MIN" of the workspace's disk, if it has one */
  ioDevice?: string;
  driver: Pick<CgroupDriver, "available" | "version">;
}

const MIN_MEMORY_MB = 4;

export function resolveLimits(req: LimitRequest, defaults: LimitDefaults, host: Host): JobLimits {
  for (const [field, v] of [["max_cpu", req.maxCpu], ["max_memory", req.maxMemory], ["max_io_bps", req.maxIoBps], ["max_pids", req.maxPids]] as const) {
    if (v < 0) throw invalid(`${field}: must be 0 (the server's default) or positive, got ${v}`);
  }
  const capacity = host.cpus.length * 100;
  if (req.maxCpu > capacity) throw invalid(`max_cpu: ${req.maxCpu}% is more than this host's ${host.cpus.length} CPUs (at most ${capacity}; 100 = one core)`);
  let cpuCores = "";
  if (req.cpuCores) {
    const cores = parseCpuList(req.cpuCores);
    if (!cores) throw invalid(`cpu_cores: ${JSON.stringify(req.cpuCores)} must be a core list such as "0-3" or "1,3,5"`);
    const missing = cores.filter((c) => !host.cpus.includes(c));
    if (missing.length) throw invalid(`cpu_cores: CPU ${missing.join(", ")} does not exist on this host (CPUs ${host.cpus.join(",")})`);
    cpuCores = cores.join(",");
  }
  if (req.maxMemory > 0 && req.maxMemory < MIN_MEMORY_MB) throw invalid(`max_memory: ${req.maxMemory} MB is too small to start a process (at least ${MIN_MEMORY_MB})`);
  if (defaults.pids > 0 && req.maxPids > defaults.pids) throw invalid(`max_pids: ${req.maxPids} is above the server's limit of ${defaults.pids} (joblet.defaultPidsLimit); a job may only lower it`);

  const limits: JobLimits = {
    cpuPercent: req.maxCpu || defaults.cpuPercent,
    cpuCores,
    memoryMb: req.maxMemory || defaults.memoryMb,
    ioBps: req.maxIoBps || defaults.ioBps,
    pids: req.maxPids || defaults.pids,
  };
  requireEnforceable(limits, host);
  return limits;
}

const NEEDS: [keyof JobLimits, Controller, string][] = [
  ["cpuPercent", "cpu", "max_cpu"],
  ["cpuCores", "cpuset", "cpu_cores"],
  ["memoryMb", "memory", "max_memory"],
  ["ioBps", "io", "max_io_bps"],
  ["pids", "pids", "max_pids"],
];

/** A limit that cannot be enforced is refused, never dropped. */
export function requireEnforceable(limits: JobLimits, host: Host): void {
  for (const [key, controller, field] of NEEDS) {
    if (!limits[key]) continue;
    if (!host.driver.available.has(controller)) {
      throw precondition(`${field}: the ${controller} controller is not available on this host (cgroup ${host.driver.version}), so this limit cannot be enforced`);
    }
  }
  if (limits.ioBps && !host.ioDevice) throw precondition("max_io_bps: the workspace file system (filesystem.baseDir) is not on a block device, so IO cannot be limited");
}

