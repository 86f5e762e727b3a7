// rnx monitor …: the server host's state (MonitoringService).
import type { SystemMetricsResponse, SystemStatusResponse } from "../gen/joblet";
import { listOption, type Options } from "./cli";
import { withConnection, type GlobalOptions } from "./connection";
import { formatBytes, printFields, printJson } from "./output";

function show(s: SystemStatusResponse | SystemMetricsResponse): void {
  printFields([
    ["Host", s.host ? `${s.host.hostname} (${s.host.os}, kernel ${s.host.kernelVersion}, ${s.host.architecture})` : undefined],
    ["Node ID", s.host?.nodeId],
    ["Uptime", s.host ? `${Number(s.host.uptime)}s` : undefined],
    ["CPU", s.cpu ? `${s.cpu.cores} cores, ${s.cpu.usagePercent}% used, load ${s.cpu.loadAverage.map((l) => l.toFixed(2)).join(" ")}` : undefined],
    ["Memory", s.memory ? `${formatBytes(s.memory.usedBytes)} of ${formatBytes(s.memory.totalBytes)} used (${s.memory.usagePercent}%)` : undefined],
    ["Server", "serverVersion" in s && s.serverVersion ? `joblet ${s.serverVersion.version} (${s.serverVersion.goVersion}, ${s.serverVersion.platform})` : undefined],
  ]);
}

export async function status(_args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const s = await c.call(c.monitoring, "getSystemStatus", {});
    if (o.json) printJson(s);
    else show(s);
  });
}

export async function watch(_args: string[], o: Options & GlobalOptions): Promise<void> {
  const metricTypes = listOption(o.filter).flatMap((t) => t.split(",")).filter(Boolean);
  await withConnection(o, async (c) => {
    for await (const m of c.stream(c.monitoring, "streamSystemMetrics", { intervalSeconds: Number(o.interval ?? 5), metricTypes })) {
      if (o.json) printJson(m);
      else show(m);
    }
  });
}

export async function top(_args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const s = await c.call(c.monitoring, "getSystemStatus", {});
    if (o.json) return printJson({ cpu: s.cpu, memory: s.memory, processes: s.processes });
    show(s);
    const procs = s.processes?.topByCpu ?? [];
    if (procs.length === 0) process.stdout.write("Processes: the server reports no process data\n");
    for (const p of procs) process.stdout.write(`${String(p.pid).padStart(7)} ${p.cpuPercent.toFixed(1).padStart(5)}% ${formatBytes(p.memoryBytes).padStart(10)} ${p.name}\n`);
  });
}
