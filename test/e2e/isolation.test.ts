// The sandbox, tested from inside real jobs run through a real daemon with the compiled binary as
// rnx: shared/reference/peer-sandboxes.md §12 items 1–5, 7, 9–11, 14–17, 19, 21–30, 40, 42, 43.
// A static probe program (test/fixtures/probe/probe.c) is uploaded into the jobs to try syscalls.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { createServer, type Server } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon, type TestDaemon } from "../helpers/daemon";
import { until } from "../helpers/wait";
import { REPO } from "../helpers/paths";
import { rnx } from "../helpers/run";

let d: TestDaemon;
let probe: string;
const work = mkdtempSync(join(tmpdir(), "isolation-"));

beforeAll(async () => {
  probe = join(work, "probe");
  const cc = Bun.spawnSync(["gcc", "-static", "-O2", "-o", probe, join(REPO, "test/fixtures/probe/probe.c")], { stderr: "pipe" });
  if (cc.exitCode !== 0) throw new Error(`cannot build the probe: ${cc.stderr.toString()}`);
  d = await startDaemon({ config: { joblet: { cleanupTimeout: "1s" } }, env: { JOBLET_TEST_SECRET_MARKER: "daemon-env-must-not-leak" } });
});
afterAll(async () => {
  await d?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Runs a command in a job with the probe at /work/probe; returns its output and exit status. */
function job(...argv: string[]) {
  const r = rnx(["--config", d.clients.admin, "job", "run", "-f", `--upload=${probe}`, ...argv]);
  return { code: r.code, out: r.stdout, err: r.stderr };
}
const sh = (script: string) => job("sh", "-c", script);

/** Host processes whose command line contains `marker`. */
function hostProcesses(marker: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ").includes(marker)) pids.push(Number(p));
    } catch {
      // gone
    }
  }
  return pids;
}

describe("namespaces and visibility", () => {
  test("1. PID: the command runs under our init as pid 1, sees only its own processes, cannot reach host pids", () => {
    const r = sh(`echo "self=$$"; ls /proc | grep -cE '^[0-9]+$'; tr '\\0' ' ' < /proc/1/cmdline; echo; ./probe kill ${process.pid}`);
    const [self, count, init, kill] = r.out.trim().split("\n");
    expect(self).toBe("self=2");
    expect(Number(count)).toBeLessThanOrEqual(4); // init, sh, ls, grep
    expect(init).toContain("joblet-init");
    expect(kill).toBe("ESRCH");
  });

  test("2. a fresh /proc of the job's pid namespace, nosuid,nodev,noexec", () => {
    const r = sh("grep ' /proc proc ' /proc/mounts");
    expect(r.out).toMatch(/^proc \/proc proc rw,nosuid,nodev,noexec/);
    expect(r.out.trim().split("\n")).toHaveLength(1);
  });

  test("3. mounts do not propagate: the job sees none of the host's, the host none of the job's", () => {
    const r = sh("cat /proc/self/mountinfo");
    const points = r.out.trim().split("\n").map((l) => l.split(" ")[4]);
    expect(points).toContain("/work");
    for (const hostOnly of ["/root", "/sys", "/home", "/boot", "/run", "/var"]) expect(points).not.toContain(hostOnly);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain("jobroot");
  });

  test("4. no way out of the root: cd /../.. stays at /, no old root, the chroot breakout fails", () => {
    const r = sh("cd /../..; pwd; ls -a / | tr '\\n' ' '; echo; ls /oldroot 2>&1 | head -1; cd /work && ./probe chroot_escape");
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toBe("/");
    expect(lines[1]!.split(" ").filter(Boolean).sort()).toEqual([".", "..", "bin", "dev", "etc", "lib", "lib64", "proc", "sbin", "tmp", "usr", "work"].sort());
    expect(lines[2]).toContain("No such file");
    expect(lines[3]).toBe("EPERM");
  });

  test("5. the root is read-only; only /work and /tmp take writes", () => {
    const r = sh("for p in /x /etc/x /usr/x /usr/bin/x /dev/x; do touch $p 2>&1 | grep -o 'Read-only file system' || echo \"wrote $p\"; done; touch /work/ok /tmp/ok && echo writable");
    expect(r.out.trim().split("\n")).toEqual([...Array(5).fill("Read-only file system"), "writable"]);
  });

  test("7. network off: only lo, up; nothing else is reachable (no route leaves the job)", () => {
    const r = sh("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; cat /sys/class/net/lo/operstate 2>/dev/null; ./probe tcp 169.254.169.254 80; ./probe tcp 1.1.1.1 53");
    expect(r.out.trim().split("\n")).toEqual(["lo", "ENETUNREACH", "ENETUNREACH"]);
    const lo = sh("./probe tcp 127.0.0.1 9"); // lo is up: refused, not unreachable
    expect(lo.out.trim()).toBe("ECONNREFUSED");
  });

  test("7b. every job has its own loopback: a port open in one job is closed in another", async () => {
    const port = 40000 + (process.pid % 20000);
    const server = rnx(["--config", d.clients.admin, "job", "run", "python3", "-c", `import socket,time;s=socket.socket();s.bind(("127.0.0.1",${port}));s.listen();print("up",flush=True);time.sleep(30)`]);
    const id = server.stdout.match(/ID:\s+(\S+)/)![1]!;
    try {
      await until("the listener", () => rnx(["--config", d.clients.admin, "job", "status", id]).stdout.includes("RUNNING"));
      await Bun.sleep(300);
      expect(sh(`python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",${port}));print("free")'`).out.trim()).toBe("free");
      expect(job("/work/probe", "tcp", "127.0.0.1", String(port)).out.trim()).toBe("ECONNREFUSED");
    } finally {
      rnx(["--config", d.clients.admin, "job", "stop", id]);
    }
  });

  test("9. host IPC endpoints: no host sockets in the tree, host abstract sockets unreachable", async () => {
    const name = `joblet-test-${process.pid}`;
    const server: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(`\0${name}`, resolve));
    try {
      const r = sh(`ls /run /var/run 2>&1 | grep -c 'No such file'; ./probe abstract ${name}`);
      expect(r.out.trim().split("\n")).toEqual(["2", "ECONNREFUSED"]);
      // the daemon's own gRPC port is on the host's loopback, not the job's
      expect(job("/work/probe", "tcp", "127.0.0.1", String(d.port)).out.trim()).toBe("ECONNREFUSED");
    } finally {
      server.close();
    }
  });

  test("10. UTS: the job has its own hostname and cannot change it", () => {
    const r = sh("hostname; ./probe sethostname");
    const [name, set] = r.out.trim().split("\n");
    expect(name).toMatch(/^job-[0-9a-f]{8}$/);
    expect(set).toBe("EPERM");
    expect(hostname()).not.toBe("evil");
  });

  test("11. IPC: a SysV message queue of the host is not visible", () => {
    const key = 0x4a4f42;
    const mk = Bun.spawnSync(["python3", "-c", `import sys;from ctypes import CDLL;l=CDLL(None);print(l.msgget(${key}, 0o1600))`], { stdout: "pipe" });
    const id = Number(mk.stdout.toString().trim());
    expect(id).toBeGreaterThanOrEqual(0);
    try {
      expect(job("/work/probe", "msgget", String(key)).out.trim()).toBe("ENOENT");
    } finally {
      Bun.spawnSync(["ipcrm", "-q", String(id)]);
    }
  });
});

describe("privileges and syscalls", () => {
  test("14-16. uid 65534, no capabilities at all, no_new_privs, seccomp in every process", () => {
    const r = sh("id -u; id -g; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status; sh -c 'grep ^Seccomp: /proc/self/status'");
    const lines = r.out.trim().split("\n");
    expect(lines.slice(0, 2)).toEqual(["65534", "65534"]);
    for (const cap of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) expect(r.out).toContain(`${cap}:\t0000000000000000`);
    expect(r.out).toContain("NoNewPrivs:\t1");
    expect(r.out).toMatch(/Seccomp:\t2\n/);
    expect(r.out).toMatch(/Seccomp_filters:\t[1-9]/);
    expect(lines.at(-1)).toBe("Seccomp:\t2"); // a grandchild too
  });

  test("15. a setuid-root program gains nothing (nosuid mounts, no_new_privs)", () => {
    const r = sh("mount -t tmpfs none /tmp 2>&1; grep -c nosuid /proc/self/mountinfo; grep -vc nosuid /proc/self/mountinfo");
    expect(r.out).toContain("must be superuser");
    const [, withNosuid, without] = r.out.trim().split("\n").slice(-3);
    expect(Number(withNosuid)).toBeGreaterThan(5);
    expect(without).toBe("0");
  });

  test("signals: nothing ignored or blocked is inherited from the daemon (SIGPIPE works)", () => {
    const r = job("grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status");
    expect(r.out).toBe("SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    expect(sh("yes | head -c 3; echo").out).toBe("y\ny\n"); // yes dies of SIGPIPE instead of spinning
  });

  test("init reaps orphans: no zombies pile up", () => {
    const r = sh("for i in 1 2 3 4 5; do sh -c 'sleep 0.05 &'; done; sleep 0.4; grep -h '^State:' /proc/[0-9]*/status | grep -c zombie");
    expect(r.out.trim()).toBe("0");
  });

  test("17. denied syscalls answer EPERM", () => {
    const checks = ["ptrace", "mount", "umount", "pivot_root", "chroot", "keyctl", "add_key", "bpf", "perf_event_open", "kexec_load", "init_module", "finit_module", "userfaultfd", "io_uring_setup", "unshare", "setns", "clone_newuser", "tiocsti", "tiocsti_high", "x32"];
    const r = sh(`for c in ${checks.join(" ")}; do echo "$c $(./probe $c)"; done`);
    const got = Object.fromEntries(r.out.trim().split("\n").map((l) => l.split(" ")));
    expect(got).toEqual(Object.fromEntries(checks.map((c) => [c, "EPERM"])));
    expect(job("/work/probe", "fork").out.trim()).toBe("ok"); // plain fork still works
  });

  test("18-19. clone3 is ENOSYS (libc falls back); the i386 ABI kills the process", () => {
    expect(job("/work/probe", "clone3").out.trim()).toBe("ENOSYS");
    const r = job("/work/probe", "int80");
    expect(r.out).not.toContain("survived");
    expect(r.code).toBe(128 + 31); // SIGSYS
  });

  test("21. kernel logs are unreadable", () => {
    const r = sh("./probe open /dev/kmsg r; ./probe read /proc/kmsg; ./probe syslog");
    const [devKmsg, procKmsg, syslog] = r.out.trim().split("\n");
    expect(devKmsg).toBe("ENOENT");
    expect(procKmsg).toMatch(/^(0 bytes|EACCES|ENOENT|EPERM)$/);
    expect(syslog).toBe("EPERM");
  });

  test("22. masked /proc entries read empty; /proc/sys and sysrq-trigger are read-only", () => {
    const r = sh("for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do echo \"$f $(./probe read $f)\"; done; for f in /proc/sys/kernel/core_pattern /proc/sysrq-trigger /proc/sys/vm/drop_caches; do echo \"$f $(./probe open $f w)\"; done");
    for (const line of r.out.trim().split("\n")) {
      const [path, ...rest] = line.split(" ");
      const outcome = rest.join(" ");
      // a write is refused (not root, and read-only besides); an entry this kernel lacks is fine
      if (path!.startsWith("/proc/sys") || path === "/proc/sysrq-trigger") expect(["EROFS", "EACCES", "ENOENT"]).toContain(outcome);
      else expect(["0 bytes", "ENOENT", "EACCES"]).toContain(outcome);
    }
    const ro = sh("grep -E ' /proc/(sys|bus|fs|irq) ' /proc/self/mountinfo | cut -d' ' -f5,6");
    for (const line of ro.out.trim().split("\n")) expect(line).toMatch(/^\/proc\/\w+ ro,/);
  });

  test("23-24. a minimal /dev, mknod fails, no disks or memory devices, no /sys", () => {
    const r = sh("ls /dev | tr '\\n' ' '; echo; ./probe mknod; for d in /dev/sda /dev/vda /dev/mem /dev/kvm; do ./probe open $d r; done; ls /sys 2>&1 | grep -c 'No such file'");
    const [devs, mknod, ...rest] = r.out.trim().split("\n");
    expect(devs!.trim().split(" ").sort()).toEqual(["fd", "full", "null", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"]);
    expect(mknod).toBe("EPERM");
    expect(rest).toEqual(["ENOENT", "ENOENT", "ENOENT", "ENOENT", "1"]);
  });

  test("25. only fds 0, 1 and 2", () => {
    expect(job("/work/probe", "fds").out.trim()).toBe("0 1 2");
  });

  test("26. a working directory cannot point into /proc (CVE-2024-21626) or climb out", () => {
    for (const wd of ["/proc/self/fd/3", "/proc/1/cwd", "/work/../../etc", "relative/dir"]) {
      const r = rnx(["--config", d.clients.admin, "job", "run", `--workdir=${wd}`, "pwd"]);
      expect({ wd, code: r.code }).toEqual({ wd, code: 1 });
      expect(r.stderr).toContain("work_dir");
    }
    expect(sh("pwd").out.trim()).toBe("/work");
  });

  test("27. the supervisor's binary is out of reach; init cannot be rewritten through /proc/1/exe", () => {
    const r = sh("./probe open /proc/1/exe w; ./probe open /proc/1/exe r; ls /work/main /opt 2>&1 | grep -c 'No such file'");
    const [w, rd, absent] = r.out.trim().split("\n") as [string, string, string];
    expect(["EACCES", "EPERM", "ETXTBSY"]).toContain(w);
    expect(["EACCES", "EPERM"]).toContain(rd);
    expect(absent).toBe("2");
  });

  test("28. the environment is exactly the declared variables plus defaults", () => {
    const r = rnx(["--config", d.clients.admin, "job", "run", "-f", "-e", "MODE=fast", "-s", "TOKEN=t0p", "env"]);
    const names = r.stdout.trim().split("\n").map((l) => l.split("=")[0]).sort();
    expect(names).toEqual(["HOME", "HOSTNAME", "JOBLET_JOB_ID", "LANG", "LOGNAME", "MODE", "PATH", "TERM", "TOKEN", "USER"].sort());
    expect(r.stdout).not.toContain("daemon-env-must-not-leak");
    expect(r.stdout).toContain("HOME=/work");
  });

  test("29. a job cannot see, signal or read another job or the daemon", async () => {
    const marker = "sleep 31.4159";
    const other = rnx(["--config", d.clients.admin, "job", "run", "sh", "-c", marker]);
    const otherId = other.stdout.match(/ID:\s+(\S+)/)![1]!;
    await until("the other job's process", () => hostProcesses(marker).length > 0);
    const [pid] = hostProcesses(marker);
    const r = sh(`./probe kill ${pid}; ./probe read /proc/${pid}/status; ./probe kill ${d.pid}; ./probe read /proc/${d.pid}/mem`);
    expect(r.out.trim().split("\n")).toEqual(["ESRCH", "ENOENT", "ESRCH", "ENOENT"]);
    rnx(["--config", d.clients.admin, "job", "stop", otherId]);
  });
});

describe("lifecycle limits", () => {
  test("40. a wall-clock limit kills with 137 and says TIMEOUT", () => {
    const r = rnx(["--config", d.clients.admin, "job", "run", "-f", "--timeout=1s", "sleep", "10"]);
    expect(r.code).toBe(137);
    expect(r.stderr).toContain("FAILED (TIMEOUT): killed after the time limit of 1s");
  });

  test("42. stop kills daemonized, double-forked and setsid'd descendants", async () => {
    const tag = `${process.pid}`;
    const script = `setsid sleep 601.${tag} & (sleep 602.${tag} &) ; nohup sleep 603.${tag} >/dev/null 2>&1 & sleep 604.${tag}`;
    const r = rnx(["--config", d.clients.admin, "job", "run", "sh", "-c", script]);
    const id = r.stdout.match(/ID:\s+(\S+)/)![1]!;
    await until("all four sleepers", () => hostProcesses(`.${tag}`).filter((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").startsWith("sleep")).length === 4);
    const stop = rnx(["--config", d.clients.admin, "job", "stop", id]);
    expect(stop.stdout).toContain("STOPPED");
    await until("no sleeper left", () => hostProcesses(`sleep 60`).filter((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`.${tag}`)).length === 0, 3000);
  });

  test("43. stop: SIGTERM, then SIGKILL after joblet.cleanupTimeout for a job that ignores SIGTERM", async () => {
    const r = rnx(["--config", d.clients.admin, "job", "run", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]);
    const id = r.stdout.match(/ID:\s+(\S+)/)![1]!;
    await Bun.sleep(200);
    const t0 = Date.now();
    const stop = rnx(["--config", d.clients.admin, "job", "stop", id, "--json"]);
    const elapsed = Date.now() - t0;
    expect(JSON.parse(stop.stdout)).toMatchObject({ status: "STOPPED", exit_code: 137 });
    expect(elapsed).toBeGreaterThanOrEqual(900); // it really waited for the grace period first
  });

  test("30. when the daemon dies, every job process dies with it", async () => {
    const own = await startDaemon();
    const marker = `sleep 32.${process.pid}`;
    try {
      rnx(["--config", own.clients.admin, "job", "run", "sh", "-c", `(setsid ${marker} &); ${marker}`]);
      await until("the job's processes", () => hostProcesses(marker).length >= 2);
      process.kill(own.pid, "SIGKILL");
      await until("no process of the job left", () => hostProcesses(marker).length === 0, 5000);
    } finally {
      await own.stop();
    }
    // the next daemon on the same port removes the cgroups the killed one left
    const next = await startDaemon({ config: { server: { port: own.port } } });
    await next.stop();
    expect(next.output()).toMatch(/cgroup driver .* staleRemoved=[1-9]/);
  });
});
