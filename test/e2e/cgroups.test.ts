// Resource control on this host's cgroups (hybrid: v1 controllers, controller-less cgroup2),
// with real jobs through a real daemon: pids, memory (OOM), CPU quota, cpuset pinning, IO
// throttling, refused values, metrics, and no cgroup left behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readHierarchies } from "../../src/daemon/sandbox/cgroups/hierarchy";
import { call, isError, jobClient, readLogs, runRequest } from "../helpers/client";
import { startDaemon, type TestDaemon } from "../helpers/daemon";
import { rnx } from "../helpers/run";

let d: TestDaemon;

beforeAll(async () => {
  d = await startDaemon({ config: { joblet: { cleanupTimeout: "1s" }, telemetry: { metrics_interval: "1s" } } });
});
afterAll(async () => {
  await d?.stop();
});

const as = (...args: string[]) => rnx(["--config", d.clients.admin, ...args]);
const run = (...args: string[]) => as("job", "run", "-f", ...args);

/** Every directory where this daemon puts job cgroups. */
function jobCgroupRoots(): string[] {
  const h = readHierarchies();
  const name = `joblet-${d.port}`;
  const roots = [...h.v1.entries()].map(([c, m]) => join(m, h.own.get(c) ?? "/", name));
  if (h.unified) roots.push(join(h.unified, h.own.get("") ?? "/", name));
  return [...new Set(roots)].filter((r) => existsSync(r));
}
const leftovers = () => jobCgroupRoots().flatMap((r) => readdirSync(r).filter((n) => n.startsWith("job-")).map((n) => join(r, n)));

describe("driver", () => {
  test("the daemon picked the v1 driver on this hybrid host and says what it can enforce", () => {
    expect(d.output()).toMatch(/cgroup driver v1 in .*: cpu,cpuset,memory,io,pids/);
    expect(d.output()).toContain(`/unified/joblet-${d.port} for kill and ids`);
  });

  test("a job is in its own cgroups from its first instruction and sees itself at the cgroup root", () => {
    const r = run("cat", "/proc/self/cgroup");
    for (const line of r.stdout.trim().split("\n")) expect(line).toMatch(/:\/$/); // cgroup namespace
  });
});

describe("limits", () => {
  test("a fork bomb plateaus at the pids limit, the daemon stays responsive, stop empties the cgroup", async () => {
    const r = as("job", "run", "--max-pids=64", "bash", "-c", "b() { b | b & }; b; sleep 30");
    const id = r.stdout.match(/ID:\s+(\S+)/)![1]!;
    const pids = () => {
      const dir = jobCgroupRoots().map((root) => join(root, `job-${id}`)).find((p) => p.includes("/pids/"));
      return dir && existsSync(dir) ? Number(readFileSync(join(dir, "pids.current"), "utf8")) : -1;
    };
    await Bun.sleep(2000);
    const during = [pids(), (await Bun.sleep(300), pids())];
    for (const n of during) expect(n).toBeLessThanOrEqual(64);
    expect(Math.max(...during)).toBeGreaterThan(32); // it really was bombing
    expect(as("monitor", "status").code).toBe(0); // the daemon answers meanwhile
    const stop = as("job", "stop", id);
    expect(stop.stdout).toContain("STOPPED");
    await Bun.sleep(500);
    expect(leftovers().filter((p) => p.includes(id))).toEqual([]);
  });

  test("a memory hog is OOM-killed and reported OOM_KILLED with 137", () => {
    const r = run("--max-memory=32", "python3", "-c", "x = bytearray(200 * 1024 * 1024); print('survived')");
    expect(r.code).toBe(137);
    expect(r.stdout).not.toContain("survived");
    expect(r.stderr).toContain("FAILED (OOM_KILLED): killed by the kernel: the job reached its memory limit of 32 MB");
    const list = JSON.parse(as("job", "list", "--json").stdout) as { failure_reason: string; max_memory: number }[];
    expect(list.some((j) => j.failure_reason === "OOM_KILLED" && j.max_memory === 32)).toBe(true);
  });

  test("a busy loop at max_cpu=20 gets about a fifth of a core", () => {
    const r = run("--max-cpu=20", "python3", "-c", "import time\nt=time.time();c=time.process_time()\nwhile time.time()-t<3: pass\nprint((time.process_time()-c)/(time.time()-t))");
    const share = Number(r.stdout.trim());
    expect(share).toBeGreaterThan(0.15);
    expect(share).toBeLessThan(0.25);
  });

  test("cpu_cores pins the job: Cpus_allowed_list is 0 and it cannot move itself", () => {
    const r = run("--cpu-cores=0", "python3", "-c", "import os\nprint(open('/proc/self/status').read().split('Cpus_allowed_list:')[1].split()[0])\ntry:\n os.sched_setaffinity(0,{1}); print(sorted(os.sched_getaffinity(0)))\nexcept OSError as e: print(e.errno)");
    const [allowed, moved] = r.stdout.trim().split("\n");
    expect(allowed).toBe("0");
    expect(moved).toBe("22"); // EINVAL: CPU 1 is outside the job's cpuset
  });

  test("O_DIRECT IO is throttled to max_io_bps on the workspace disk (v1 cannot throttle buffered writeback)", () => {
    const r = run("--max-iobps=5242880", "sh", "-c", "dd if=/dev/zero of=/work/f bs=1M count=15 oflag=direct 2>&1 | tail -1; dd if=/work/f of=/dev/null bs=1M iflag=direct 2>&1 | tail -1");
    const rates = [...r.stdout.matchAll(/(\d+) bytes .* s, ([\d.]+) (MB|kB|GB)\/s/g)].map((m) => Number(m[2]) * (m[3] === "GB" ? 1000 : m[3] === "kB" ? 0.001 : 1));
    expect(rates).toHaveLength(2);
    for (const mbPerS of rates) expect(mbPerS).toBeLessThanOrEqual(6); // dd's MB = 10^6: 5 MiB/s ≈ 5.24 MB/s
  });

  test("values the host cannot honour are INVALID_ARGUMENT naming the field", async () => {
    expect(as("job", "run", "--cpu-cores=9-12", "true").stderr).toContain("cpu_cores: CPU 9, 10, 11, 12 does not exist on this host");
    expect(as("job", "run", "--max-cpu=5000", "true").stderr).toContain("max_cpu: 5000% is more than this host's");
    expect(as("job", "run", "--max-pids=100000", "true").stderr).toContain("max_pids: 100000 is above the server's limit of 512");
    const c = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
    try {
      const neg = await call(c.runJob, c, runRequest({ maxMemory: -1 }));
      expect(isError(neg) && neg.code === 3 && neg.details.startsWith("max_memory:")).toBe(true);
      const tiny = await call(c.runJob, c, runRequest({ maxMemory: 1 }));
      expect(isError(tiny) && tiny.details.includes("too small")).toBe(true);
    } finally {
      c.close();
    }
  });

  test("defaults apply when a request sets nothing, and show in status", () => {
    const r = as("job", "run", "--json", "true");
    const id = JSON.parse(r.stdout).job_uuid as string;
    const s = JSON.parse(as("job", "status", id, "--json").stdout);
    expect(s).toMatchObject({ max_cpu: 100, max_memory: 512, max_io_bps: 0, max_pids: 512 });
  });
});

describe("metrics", () => {
  test("samples are taken while a job runs; rnx shows history and then live ones until it ends", async () => {
    const c = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
    try {
      const r = await call(c.runJob, c, runRequest({ command: "python3", args: ["-c", "import time\nx=bytearray(40<<20)\nt=time.time()\nwhile time.time()-t<3.5: pass"], maxCpu: 50 }));
      if (isError(r)) throw new Error(r.details);
      const live = as("job", "metrics", r.jobUuid, "--json"); // runs until the job ends
      expect(live.code).toBe(0);
      const samples = live.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(samples.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...samples.map((s) => s.memory_bytes))).toBeGreaterThan(40 * 1024 * 1024);
      expect(samples.every((s) => s.memory_limit === 512 * 1024 * 1024)).toBe(true);
      const busy = samples.filter((s) => s.cpu_percent > 0);
      expect(busy.some((s) => s.cpu_percent > 30 && s.cpu_percent < 60)).toBe(true); // ~50% quota
      const ts = samples.map((s) => BigInt(s.timestamp));
      expect(ts.every((t, i) => i === 0 || t > ts[i - 1]!)).toBe(true); // no duplicates at the history/live seam
      // history afterwards, with a limit
      const h = await new Promise<unknown[]>((resolve, reject) => {
        const out: unknown[] = [];
        const s = c.getJobMetrics({ jobUuid: r.jobUuid, startTime: 0n, endTime: 0n, limit: 2 });
        s.on("data", (m) => out.push(m));
        s.on("end", () => resolve(out));
        s.on("error", reject);
      });
      expect(h).toHaveLength(2);
      await readLogs(c, r.jobUuid);
    } finally {
      c.close();
    }
  });

  test("the table view, and a clear message for a job without samples", () => {
    const r = as("job", "run", "--json", "true");
    const id = JSON.parse(r.stdout).job_uuid as string;
    Bun.sleepSync(300);
    const m = as("job", "metrics", id);
    // a job this short may have its one final sample, or none
    if (m.code === 0) expect(m.stdout).toMatch(/^TIME\s+CPU%\s+MEMORY/);
    else expect(m.stderr).toContain(`no metrics for job ${id}`);
  });
});

describe("cleanup", () => {
  test("no cgroup is left behind after 200 jobs", async () => {
    const c = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
    try {
      const batch = async () => {
        const ids = await Promise.all(Array.from({ length: 20 }, () => call(c.runJob, c, runRequest({ command: "sh", args: ["-c", "echo x"] }))));
        for (const r of ids) {
          if (isError(r)) throw new Error(r.details);
          await readLogs(c, r.jobUuid);
        }
      };
      for (let i = 0; i < 10; i++) await batch();
      for (let i = 0; i < 50 && leftovers().length; i++) await Bun.sleep(100); // removal follows the end by a moment
      expect(leftovers()).toEqual([]);
    } finally {
      c.close();
    }
  }, 120_000);
});
