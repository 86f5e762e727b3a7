// Host facts for MonitoringService.GetSystemStatus, read from /proc. Disks, networks, IO,
// processes and cloud detection come with the monitoring capability.
import { readFileSync } from "node:fs";
import { arch, cpus, hostname, loadavg, networkInterfaces, release } from "node:os";
import type { CPUMetrics, HostInfo, MemoryMetrics, ServerVersionInfo } from "../../gen/joblet";
import { API_VERSION, VERSION } from "../../version";

const GOARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", ia32: "386", arm: "arm" };
export const platform = () => `linux/${GOARCH[arch()] ?? arch()}`;

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"));
    return m?.[1] ?? "Linux";
  } catch {
    return "Linux";
  }
}

function bootTimeSeconds(): number {
  const m = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
  return m ? Number(m[1]) : 0;
}

export function hostInfo(nodeId: string): HostInfo {
  const ips: string[] = [];
  const macs = new Set<string>();
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.internal) continue;
      if (a.family === "IPv4") ips.push(a.address);
      if (a.mac && a.mac !== "00:00:00:00:00:00") macs.add(a.mac);
    }
  }
  const boot = bootTimeSeconds();
  return {
    hostname: hostname(),
    os: osName(),
    kernelVersion: release(),
    architecture: GOARCH[arch()] ?? arch(),
    bootTime: new Date(boot * 1000).toISOString(),
    uptime: BigInt(Math.max(0, Math.floor(Date.now() / 1000) - boot)),
    nodeId,
    serverIps: ips,
    macAddresses: [...macs],
  };
}

type CpuTimes = number[]; // user nice system idle iowait irq softirq steal

function readCpuTimes(): CpuTimes {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  return line.trim().split(/\s+/).slice(1, 9).map(Number);
}

let previous: CpuTimes | undefined;

/** CPU use since the previous call (or since boot on the first call), in percent. */
export function cpuMetrics(): CPUMetrics {
  const now = readCpuTimes();
  const base = previous ?? now.map(() => 0);
  previous = now;
  const d = now.map((v, i) => v - (base[i] ?? 0));
  const total = d.reduce((a, b) => a + b, 0) || 1;
  const pct = (v: number) => Math.round((10000 * v) / total) / 100;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = d;
  return {
    cores: cpus().length,
    usagePercent: pct(total - idle - iowait),
    userTime: pct(user + nice),
    systemTime: pct(system + irq + softirq),
    idleTime: pct(idle),
    ioWaitTime: pct(iowait),
    stealTime: pct(steal),
    loadAverage: loadavg(),
    perCoreUsage: [],
  };
}

export function memoryMetrics(): MemoryMetrics {
  const kb: Record<string, number> = {};
  for (const line of readFileSync("/proc/meminfo", "utf8").split("\n")) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) kb[m[1]!] = Number(m[2]);
  }
  const bytes = (k: string) => BigInt((kb[k] ?? 0) * 1024);
  const total = kb.MemTotal ?? 0;
  const available = kb.MemAvailable ?? kb.MemFree ?? 0;
  return {
    totalBytes: bytes("MemTotal"),
    usedBytes: BigInt((total - available) * 1024),
    freeBytes: bytes("MemFree"),
    availableBytes: bytes("MemAvailable"),
    usagePercent: total ? Math.round((10000 * (total - available)) / total) / 100 : 0,
    cachedBytes: bytes("Cached"),
    bufferedBytes: bytes("Buffers"),
    swapTotal: bytes("SwapTotal"),
    swapUsed: BigInt(((kb.SwapTotal ?? 0) - (kb.SwapFree ?? 0)) * 1024),
    swapFree: bytes("SwapFree"),
  };
}

export function serverVersion(): ServerVersionInfo {
  return {
    version: VERSION,
    gitCommit: "",
    gitTag: `v${VERSION}`,
    buildDate: "",
    component: "joblet",
    goVersion: `bun ${Bun.version}`,
    platform: platform(),
    protoCommit: "",
    protoTag: `v${API_VERSION}`,
  };
}
