import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { diskOf } from "../../src/daemon/sandbox/cgroups/device";
import { keyed, parseCpuList, readHierarchies } from "../../src/daemon/sandbox/cgroups/hierarchy";
import { resolveLimits, type Host } from "../../src/daemon/sandbox/cgroups/limits";
import { blkioBytes } from "../../src/daemon/sandbox/cgroups/v1";
import { ioBytes } from "../../src/daemon/sandbox/cgroups/v2";
import { ApiError } from "../../src/daemon/errors";
import { parentIn } from "../../src/daemon/sandbox/cgroups/select";

const HYBRID_MOUNTS = `
25 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
34 30 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu
`;
const HYBRID_CGROUP = "4:memory:/process_api/abc\n3:cpuacct,cpu:/\n1:name=systemd:/\n0::/\n";

describe("hierarchies", () => {
  test("v1 controllers, the unified mount and the daemon's own paths", () => {
    const h = readHierarchies(HYBRID_MOUNTS, HYBRID_CGROUP);
    expect(h.unified).toBe("/sys/fs/cgroup/unified");
    expect(h.v1.get("cpu")).toBe("/sys/fs/cgroup/cpu"); // first mount wins
    expect(h.v1.get("cpuacct")).toBe("/sys/fs/cgroup/cpu,cpuacct");
    expect(h.v1.get("memory")).toBe("/sys/fs/cgroup/memory");
    expect(h.v1.has("systemd")).toBe(false);
    expect(h.own.get("memory")).toBe("/process_api/abc");
    expect(h.own.get("cpu")).toBe("/");
    expect(h.own.get("")).toBe("/");
  });

  test("pure v2", () => {
    const h = readHierarchies("40 1 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/system.slice/joblet.service\n");
    expect(h.unified).toBe("/sys/fs/cgroup");
    expect(h.v1.size).toBe(0);
    expect(h.own.get("")).toBe("/system.slice/joblet.service");
  });

  test("this machine reads as hybrid", () => {
    const h = readHierarchies();
    expect(h.v1.has("memory")).toBe(true);
    expect(h.unified).toBeDefined();
  });
});

describe("parsers", () => {
  test("cpu lists", () => {
    expect(parseCpuList("0-3,5")).toEqual([0, 1, 2, 3, 5]);
    expect(parseCpuList("1")).toEqual([1]);
    expect(parseCpuList("3-1")).toBeUndefined();
    expect(parseCpuList("a")).toBeUndefined();
    expect(parseCpuList("0-99999")).toBeUndefined();
  });
  test("keyed files, io.stat and blkio", () => {
    expect(keyed("usage_usec 1234\nuser_usec 10\n").get("usage_usec")).toBe(1234);
    expect(ioBytes("254:0 rbytes=100 wbytes=20 rios=1\n8:0 rbytes=1 wbytes=2\n")).toEqual({ read: 101, write: 22 });
    expect(blkioBytes("254:0 Read 100\n254:0 Write 7\n254:0 Total 107\nTotal 107\n")).toEqual({ read: 100, write: 7 });
  });
  test("the disk behind a path", () => {
    expect(diskOf("/")).toMatch(/^\d+:\d+$/);
    expect(diskOf("/proc")).toBeUndefined(); // no block device
  });
});

describe("limits", () => {
  const host = (available: string[], ioDevice?: string): Host => ({ cpus: [0, 1], ioDevice, driver: { version: "v1", available: new Set(available) as Host["driver"]["available"] } });
  const all = host(["cpu", "memory", "io", "pids", "cpuset"], "254:0");
  const defaults = { cpuPercent: 100, memoryMb: 512, ioBps: 0, pids: 512 };
  const req = (r: Partial<Parameters<typeof resolveLimits>[0]>) => ({ maxCpu: 0, cpuCores: "", maxMemory: 0, maxIoBps: 0, maxPids: 0, ...r });
  const refusal = (fn: () => unknown) => {
    try {
      fn();
      return "accepted";
    } catch (e) {
      return e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
    }
  };

  test("defaults fill what a request leaves at 0; cores are normalized", () => {
    expect(resolveLimits(req({ maxCpu: 150, cpuCores: "1,0" }), defaults, all)).toEqual({ cpuPercent: 150, cpuCores: "0,1", memoryMb: 512, ioBps: 0, pids: 512 });
  });

  test("what the host cannot have, or the server does not allow", () => {
    expect(refusal(() => resolveLimits(req({ maxCpu: 201 }), defaults, all))).toContain("max_cpu: 201% is more than this host's 2 CPUs (at most 200");
    expect(refusal(() => resolveLimits(req({ cpuCores: "2" }), defaults, all))).toContain("cpu_cores: CPU 2 does not exist on this host (CPUs 0,1)");
    expect(refusal(() => resolveLimits(req({ maxPids: 1000 }), defaults, all))).toContain("max_pids: 1000 is above the server's limit of 512");
    expect(refusal(() => resolveLimits(req({ maxMemory: 2 }), defaults, all))).toContain("too small");
  });

  test("a limit without its controller, or IO without a disk, is refused rather than dropped", () => {
    expect(refusal(() => resolveLimits(req({}), defaults, host(["cpu", "pids"], "254:0")))).toBe(
      "FAILED_PRECONDITION: max_memory: the memory controller is not available on this host (cgroup v1), so this limit cannot be enforced",
    );
    expect(refusal(() => resolveLimits(req({ maxIoBps: 1000 }), defaults, host(["cpu", "memory", "io", "pids"])))).toContain("is not on a block device");
    expect(resolveLimits(req({}), { cpuPercent: 0, memoryMb: 0, ioBps: 0, pids: 0 }, host([]))).toEqual({ cpuPercent: 0, cpuCores: "", memoryMb: 0, ioBps: 0, pids: 0 });
  });
});

describe("placement", () => {



  test("a delegated baseDir when it exists and the daemon is not inside it; otherwise the daemon's own cgroup", () => {
    const mount = mkdtempSync(`${tmpdir()}/cg-`);
    try {
      expect(parentIn(mount, "/system.slice/joblet.service", "/sys/fs/cgroup/joblet.slice")).toEqual({ dir: `${mount}/system.slice/joblet.service`, delegated: false });
      mkdirSync(`${mount}/joblet.slice/joblet.service`, { recursive: true });
      expect(parentIn(mount, "/system.slice/joblet.service", "/sys/fs/cgroup/joblet.slice")).toEqual({ dir: `${mount}/joblet.slice`, delegated: true });
      // systemd put the daemon inside baseDir (Delegate=yes): nest under its own cgroup
      expect(parentIn(mount, "/joblet.slice/joblet.service", "/sys/fs/cgroup/joblet.slice")).toEqual({ dir: `${mount}/joblet.slice/joblet.service`, delegated: false });
      expect(parentIn(mount, "/", "/elsewhere/x")).toEqual({ dir: mount, delegated: false });
    } finally {
      rmSync(mount, { recursive: true, force: true });
    }
  });
});
