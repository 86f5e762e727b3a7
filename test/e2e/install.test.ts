// install.sh end to end (runs as root): distribution detection on real os-release samples, then a
// real installation into a temporary prefix in background (pid-file) mode, a re-install that
// must keep the CA and node id, --uninstall (keeps config) and --uninstall --purge (keeps nothing).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { freePort } from "../helpers/daemon";
import { JOBLET, REPO, requireBinary } from "../helpers/paths";
import { runBinary, type Result } from "../helpers/run";

const INSTALL = join(REPO, "install.sh");
const FIXTURES = join(REPO, "test", "fixtures", "os-release");
const BASH = "/bin/bash";
const INSTALL_TIMEOUT = 180_000;

function installer(args: string[], env: Record<string, string> = {}): Result {
  return runBinary(BASH, [INSTALL, ...args], { env, timeoutMs: 150_000 });
}

const show = (r: Result) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** A directory for PATH holding only the given (never executed) package-manager stubs. */
function pathWith(...commands: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "joblet-path-"));
  for (const c of commands) {
    writeFileSync(join(dir, c), "#!/bin/sh\nexit 0\n");
    chmodSync(join(dir, c), 0o755);
  }
  return dir;
}

const mode = (p: string) => statSync(p).mode & 0o777;

describe("install.sh --detect-distro", () => {
  // PATH without apt-get/dnf/yum/apk: the answer must come from the os-release file itself.
  let emptyPath: string;
  const stubDirs: string[] = [];
  beforeAll(() => {
    emptyPath = pathWith();
    stubDirs.push(emptyPath);
  });
  afterAll(() => {
    for (const d of stubDirs) rmSync(d, { recursive: true, force: true });
  });

  const samples: [string, string][] = [
    ["ubuntu-24.04", "ubuntu"],
    ["debian-12", "ubuntu"],
    ["linuxmint-21", "ubuntu"],
    ["pop-22.04", "ubuntu"], // unknown ID, ID_LIKE="ubuntu debian"
    ["rhel-9", "rhel"],
    ["rocky-9", "rhel"],
    ["almalinux-9", "rhel"],
    ["centos-stream-9", "rhel"],
    ["amzn-2", "rhel"],
    ["fedora-40", "fedora"],
    ["amzn-2023", "fedora"],
    ["alpine-3.20", "alpine"],
  ];

  test.each(samples)("%s -> %s", (file, family) => {
    const r = installer(["--detect-distro", "--os-release", join(FIXTURES, file)], { PATH: emptyPath });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe(`${family} runtime-config-${family}.yml\n`);
    expect(existsSync(join(REPO, "config", `runtime-config-${family}.yml`))).toBe(true);
  });

  test("an unknown distribution with no known package manager fails, listing the supported ones", () => {
    const r = installer(["--detect-distro", "--os-release", join(FIXTURES, "plan9")], { PATH: emptyPath });
    expect(r.code, show(r)).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("unsupported Linux distribution");
    expect(r.stderr).toContain("ID=plan9");
    expect(r.stderr).toContain("apt-get, dnf, yum, apk");
    for (const name of ["Ubuntu", "Debian", "Linux Mint", "RHEL", "CentOS", "Rocky", "AlmaLinux", "Fedora", "Amazon Linux", "Alpine"]) {
      expect(r.stderr).toContain(name);
    }
  });

  test("a missing os-release with no package manager fails clearly", () => {
    const r = installer(["--detect-distro", "--os-release", join(FIXTURES, "does-not-exist")], { PATH: emptyPath });
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain("cannot detect the Linux distribution");
    expect(r.stderr).toContain("not found");
  });

  test.each([
    ["apt-get", "ubuntu"],
    ["dnf", "fedora"],
    ["yum", "rhel"],
    ["apk", "alpine"],
  ])("falls back to the package manager (%s -> %s) for an unknown or missing os-release", (pm, family) => {
    const dir = pathWith(pm);
    stubDirs.push(dir);
    for (const file of ["plan9", "does-not-exist"]) {
      const r = installer(["--detect-distro", "--os-release", join(FIXTURES, file)], { PATH: dir });
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toBe(`${family} runtime-config-${family}.yml\n`);
    }
  });

  test("detects this host from /etc/os-release", () => {
    const r = installer(["--detect-distro"]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^(ubuntu|rhel|fedora|alpine) runtime-config-\1\.yml\n$/);
  });

  test("rejects unknown options and --purge without --uninstall", () => {
    const bad = installer(["--frobnicate"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown option "--frobnicate"');
    const purge = installer(["--purge", "--prefix", "/tmp/nowhere-joblet"]);
    expect(purge.code).toBe(1);
    expect(purge.stderr).toContain("--purge only goes with --uninstall");
    const help = installer(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--bin-link-dir");
  });
});

describe("install.sh into a temporary prefix (background mode)", () => {
  let tmp = "";
  let realTmp = "";
  let port = 0;
  let family = "";
  const pids = new Set<number>();
  const p = (...parts: string[]) => join(tmp, ...parts);
  const installArgs = () => ["--prefix", tmp, "--bin-link-dir", p("links"), "--binary", JOBLET, "--address", "127.0.0.1", "--port", String(port), "--no-systemd", "--skip-deps"];

  /** A live (non-zombie) process with this pid. */
  const alive = (pid: number) => {
    try {
      return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  };
  const exeOf = (pid: number) => {
    try {
      return readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, "");
    } catch {
      return undefined;
    }
  };
  const isOurs = (pid: number) => alive(pid) && exeOf(pid) === join(realTmp, "bin", "joblet");
  const waitGone = async (pid: number, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (alive(pid) && Date.now() < deadline) await Bun.sleep(50);
    return !alive(pid);
  };
  const daemonPid = () => {
    const pid = Number(readFileSync(p("run", "joblet.pid"), "utf8").trim());
    pids.add(pid);
    return pid;
  };
  const serverConfig = () => parse(readFileSync(p("config", "joblet-config.yml"), "utf8"));
  const statusNodeId = () => {
    const r = runBinary(p("links", "rnx"), ["--config", p("config", "rnx-config.yml"), "monitor", "status"], { timeoutMs: 30_000 });
    expect(r.code, show(r)).toBe(0);
    const m = /Node ID:\s*(\S+)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    return m![1];
  };

  beforeAll(async () => {
    requireBinary();
    tmp = mkdtempSync(join(tmpdir(), "joblet-install-"));
    realTmp = realpathSync(tmp);
    port = await freePort();
    const d = installer(["--detect-distro"]);
    family = d.stdout.split(" ")[0]!;
  });

  afterAll(async () => {
    // Stop any daemon this test started (only ours: checked through /proc/PID/exe).
    if (tmp && existsSync(p("run", "joblet.pid"))) daemonPid();
    for (const pid of pids) {
      if (!isOurs(pid)) continue;
      process.kill(pid, "SIGTERM");
      if (!(await waitGone(pid, 5000)) && isOurs(pid)) process.kill(pid, "SIGKILL");
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test(
    "installs: layout, modes, certificates, config paths, running daemon answering rnx",
    () => {
      const r = installer(installArgs());
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toContain(`rnx --config ${p("config", "rnx-config.yml")} monitor status`);
      expect(r.stdout).toContain(p("config", "rnx-config.yml"));

      // binaries and symlinks
      expect(mode(p("bin", "joblet"))).toBe(0o755);
      expect(statSync(p("bin", "joblet")).size).toBe(statSync(JOBLET).size);
      expect(lstatSync(p("bin", "rnx")).isSymbolicLink()).toBe(true);
      expect(readlinkSync(p("bin", "rnx"))).toBe("joblet");
      expect(readlinkSync(p("links", "rnx"))).toBe(p("bin", "rnx"));
      expect(readlinkSync(p("links", "joblet"))).toBe(p("bin", "joblet"));

      // directories; the log directory of a non-default prefix is PREFIX/log
      for (const d of ["run", "logs", "jobs", "volumes", "runtimes", "state", "network", "log"]) {
        expect(statSync(p(d)).isDirectory(), d).toBe(true);
      }
      expect(mode(p("config"))).toBe(0o700);
      expect(mode(p("config", "ca"))).toBe(0o700);
      expect(mode(p("config", "joblet-config.yml"))).toBe(0o600);
      expect(mode(p("config", "rnx-config.yml"))).toBe(0o600);
      expect(mode(p("config", "ca", "ca-key.pem"))).toBe(0o600);
      expect(existsSync(p("config", "ca", "ca-cert.pem"))).toBe(true);

      // configuration: certificates embedded, a UUID node id, the port, every path under the prefix
      const cfg = serverConfig();
      expect(cfg.server.port).toBe(port);
      expect(cfg.server.nodeId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(cfg.security.serverCert).toContain("BEGIN CERTIFICATE");
      expect(cfg.security.caCert).toBe(readFileSync(p("config", "ca", "ca-cert.pem"), "utf8"));
      const cfgText = readFileSync(p("config", "joblet-config.yml"), "utf8");
      const rtText = readFileSync(p("config", "runtime-config.yml"), "utf8");
      for (const text of [cfgText, rtText]) {
        expect(text).not.toContain("/opt/joblet");
        expect(text).not.toContain("/var/log/joblet");
      }
      expect(cfg.security.audit.log_file).toBe(p("log", "audit.log"));
      expect(cfg.network.state_dir).toBe(p("network"));
      expect(cfg.filesystem.baseDir).toBe(p("jobs"));
      const repoRt = readFileSync(join(REPO, "config", `runtime-config-${family}.yml`), "utf8");
      expect(rtText).toBe(repoRt.replaceAll("/opt/joblet", tmp));
      const rnxCfg = parse(readFileSync(p("config", "rnx-config.yml"), "utf8"));
      expect(rnxCfg.nodes.default.address).toBe(`127.0.0.1:${port}`);
      expect(rnxCfg.nodes.default.nodeId).toBe(cfg.server.nodeId);
      const v = runBinary(p("bin", "joblet"), [`--config=${p("config", "joblet-config.yml")}`, "--validate"]);
      expect(v.code, show(v)).toBe(0);

      // the daemon: pid file, alive, really PREFIX/bin/joblet, answering with this node id
      const pid = daemonPid();
      expect(isOurs(pid), `pid ${pid} exe ${exeOf(pid)}`).toBe(true);
      expect(statusNodeId()).toBe(cfg.server.nodeId);
      expect(readFileSync(p("log", "joblet.log"), "utf8")).toContain("listening"); // the configured file output
    },
    INSTALL_TIMEOUT,
  );

  test(
    "re-running keeps the CA, certificates and node id, and restarts the daemon",
    async () => {
      const caCert = readFileSync(p("config", "ca", "ca-cert.pem"));
      const caKey = readFileSync(p("config", "ca", "ca-key.pem"));
      const rnxBefore = readFileSync(p("config", "rnx-config.yml"));
      const nodeId = serverConfig().server.nodeId;
      const oldPid = daemonPid();

      const r = installer(installArgs());
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toContain("keeping the existing certificate authority");

      expect(readFileSync(p("config", "ca", "ca-cert.pem")).equals(caCert)).toBe(true);
      expect(readFileSync(p("config", "ca", "ca-key.pem")).equals(caKey)).toBe(true);
      expect(readFileSync(p("config", "rnx-config.yml")).equals(rnxBefore)).toBe(true);
      expect(serverConfig().server.nodeId).toBe(nodeId);

      const pid = daemonPid();
      expect(pid).not.toBe(oldPid);
      expect(await waitGone(oldPid)).toBe(true);
      expect(isOurs(pid)).toBe(true);
      expect(statusNodeId()).toBe(nodeId);
    },
    INSTALL_TIMEOUT,
  );

  test(
    "a pid file naming another process never gets that process killed",
    async () => {
      // Stop the daemon by hand (it removes its pid file), then plant a stranger's pid there.
      const pid = daemonPid();
      process.kill(pid, "SIGTERM");
      expect(await waitGone(pid)).toBe(true);
      expect(existsSync(p("run", "joblet.pid"))).toBe(false);
      const stranger = Bun.spawn(["sleep", "60"], { stdout: "ignore", stderr: "ignore" });
      try {
        writeFileSync(p("run", "joblet.pid"), `${stranger.pid}\n`);
        const r = installer(installArgs());
        expect(r.code, show(r)).toBe(0);
        expect(r.stdout).toContain("stale");
        expect(alive(stranger.pid)).toBe(true);
        expect(stranger.exitCode).toBeNull();
        const fresh = daemonPid();
        expect(fresh).not.toBe(stranger.pid);
        expect(isOurs(fresh)).toBe(true);
        expect(statusNodeId()).toBe(serverConfig().server.nodeId);
      } finally {
        stranger.kill("SIGKILL");
        await stranger.exited;
      }
    },
    INSTALL_TIMEOUT,
  );

  test(
    "--uninstall stops the daemon, removes binaries and symlinks, keeps config and certificates",
    async () => {
      const pid = daemonPid();
      const caCert = readFileSync(p("config", "ca", "ca-cert.pem"));
      // no --bin-link-dir: the installer remembers where it put the symlinks
      const r = installer(["--uninstall", "--prefix", tmp]);
      expect(r.code, show(r)).toBe(0);
      expect(await waitGone(pid)).toBe(true);
      expect(existsSync(p("run", "joblet.pid"))).toBe(false);
      expect(existsSync(p("bin"))).toBe(false);
      expect(existsSync(p("links", "rnx"))).toBe(false);
      expect(existsSync(p("links", "joblet"))).toBe(false);
      for (const f of ["joblet-config.yml", "rnx-config.yml", "runtime-config.yml", "ca/ca-key.pem"]) {
        expect(existsSync(p("config", f)), f).toBe(true);
      }
      expect(readFileSync(p("config", "ca", "ca-cert.pem")).equals(caCert)).toBe(true);
      expect(r.stdout).toContain(`kept the configuration and certificates in ${p("config")}`);
    },
    INSTALL_TIMEOUT,
  );

  test(
    "--uninstall --purge leaves nothing the installer created",
    () => {
      const r = installer(["--uninstall", "--purge", "--prefix", tmp, "--bin-link-dir", p("links")]);
      expect(r.code, show(r)).toBe(0);
      expect(r.stderr).toBe("");
      // the prefix itself existed before (mkdtemp), so it stays, empty
      expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
    },
    INSTALL_TIMEOUT,
  );

  test("the installer refuses a system directory as prefix", () => {
    const r = installer(["--prefix", "/usr", "--skip-deps", "--no-systemd"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is a system directory");
  });
});
