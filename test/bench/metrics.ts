// Metrics sampling cost (issue 4): the daemon's CPU use with N running jobs sampled every second,
// against the same daemon with sampling off. Each sample reads the job's cgroup files.
// Run: ./node_modules/.bin/bun test/bench/metrics.ts [jobs=500] [seconds=10]
import { readFileSync } from "node:fs";
import { call, isError, jobClient, runRequest } from "../helpers/client";
import { startDaemon } from "../helpers/daemon";

const JOBS = Number(process.argv[2] ?? 500);
const SECONDS = Number(process.argv[3] ?? 10);
const TICK = 100; // USER_HZ (clock ticks in /proc/PID/stat) on Linux

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / TICK; // utime + stime
}

async function measure(accounting: boolean): Promise<{ cpuPercent: number; samples: number }> {
  const d = await startDaemon({ config: { telemetry: { metrics_interval: "1s" }, cgroup: { accounting: { enabled: accounting } }, logging: { level: "warn" } } });
  const c = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
  try {
    for (let i = 0; i < JOBS; i += 25) {
      const batch = await Promise.all(Array.from({ length: Math.min(25, JOBS - i) }, () => call(c.runJob, c, runRequest({ command: "sleep", args: ["3600"] }))));
      for (const r of batch) if (isError(r)) throw new Error(r.details);
    }
    await Bun.sleep(2000); // let the starts settle
    const before = cpuSeconds(d.pid);
    await Bun.sleep(SECONDS * 1000);
    const used = cpuSeconds(d.pid) - before;
    return { cpuPercent: (used / SECONDS) * 100, samples: accounting ? JOBS * SECONDS : 0 };
  } finally {
    c.close();
    await d.stop(); // stops every job
  }
}

const off = await measure(false);
const on = await measure(true);
const perSampleUs = on.samples ? (((on.cpuPercent - off.cpuPercent) / 100) * SECONDS * 1e6) / on.samples : 0;
console.log(`metrics sampling with ${JOBS} running jobs, 1 s interval, ${SECONDS} s measured\n`);
console.log(`${"daemon".padEnd(28)} ${"CPU %".padStart(8)}`);
console.log(`${"sampling off".padEnd(28)} ${off.cpuPercent.toFixed(2).padStart(8)}`);
console.log(`${"sampling on".padEnd(28)} ${on.cpuPercent.toFixed(2).padStart(8)}`);
console.log(`\ncost per job sample: ${perSampleUs.toFixed(1)} µs of daemon CPU (${(on.cpuPercent - off.cpuPercent).toFixed(2)}% of one core at ${JOBS} jobs/s)`);
