// Finding and reading the configuration files (src/config/load.ts, src/config/rnx-load.ts):
// search order, runtime-config.yml, JOBLET_* overrides, keys not acted on yet, and the client's
// rnx-config.yml with node selection. Every test works in its own temporary directory.
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ConfigError, DEFAULT_CONFIG_DIR, jobletConfigCandidates, loadServerConfig, type LoadedConfig } from "../../src/config/load";
import { NOT_IMPLEMENTED_ENV } from "../../src/config/not-implemented";
import { loadRnxConfig, rnxConfigCandidates, selectNode } from "../../src/config/rnx-load";
import { DEFAULT_ALLOWED_MOUNTS } from "../../src/config/runtime-schema";
import { REPO } from "../helpers/paths";

const SEED = join(REPO, "test", "fixtures", "config", "seed");
const ROOT = realpathSync(mkdtempSync(join(tmpdir(), "config-load-test-")));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

let counter = 0;
/** A fresh directory with the given files (relative path -> content). */
function tree(files: Record<string, string> = {}): string {
  const dir = join(ROOT, `t${++counter}`);
  mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}

/** Runs fn with the working directory set to dir, always restoring it. */
function inDir<T>(dir: string, fn: () => T): T {
  const before = process.cwd();
  process.chdir(dir);
  try {
    return fn();
  } finally {
    process.chdir(before);
  }
}

/** The ConfigError fn throws (fails the test if it throws nothing or something else). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

const MINIMAL = 'version: "3.0"\nserver:\n  port: 50051\n';
const SYSTEM_MAIN = join(DEFAULT_CONFIG_DIR, "joblet-config.yml");
const SYSTEM_RUNTIME = join(DEFAULT_CONFIG_DIR, "runtime-config.yml");
/** The guide's order: /opt/joblet/config first, then the working directory's, then /etc/joblet. */
function expectedSearchResult(local: string | undefined): string | undefined {
  if (existsSync(SYSTEM_MAIN)) return SYSTEM_MAIN;
  if (local) return local;
  return existsSync("/etc/joblet/joblet-config.yml") ? "/etc/joblet/joblet-config.yml" : undefined;
}

/** loadServerConfig on a file with no environment, from a directory with no config of its own. */
function load(path: string, env: Record<string, string> = {}): LoadedConfig {
  return loadServerConfig({ path, env });
}

describe("where the server configuration is found", () => {
  test("the standard locations, in the guide's order", () => {
    expect(jobletConfigCandidates("/work/x")).toEqual([
      "/opt/joblet/config/joblet-config.yml",
      "/work/x/config/joblet-config.yml",
      "/work/x/joblet-config.yml",
      "/etc/joblet/joblet-config.yml",
    ]);
  });

  test("./config/joblet-config.yml comes before ./joblet-config.yml", () => {
    const dir = tree({ "config/joblet-config.yml": "server:\n  port: 1111\n", "joblet-config.yml": "server:\n  port: 2222\n" });
    const loaded = inDir(dir, () => loadServerConfig({ env: {} }));
    expect(loaded.path).toBe(expectedSearchResult(join(dir, "config", "joblet-config.yml"))!);
    if (loaded.path.startsWith(dir)) expect(loaded.config.server.port).toBe(1111);
  });

  test("./joblet-config.yml is used when there is no ./config/joblet-config.yml", () => {
    const dir = tree({ "joblet-config.yml": "server:\n  port: 2222\n" });
    const loaded = inDir(dir, () => loadServerConfig({ env: {} }));
    expect(loaded.path).toBe(expectedSearchResult(join(dir, "joblet-config.yml"))!);
    if (loaded.path.startsWith(dir)) expect(loaded.config.server.port).toBe(2222);
  });

  test("nothing found: the error lists every place looked in", () => {
    const dir = tree();
    if (expectedSearchResult(undefined)) {
      expect(inDir(dir, () => loadServerConfig({ env: {} })).path).toBe(expectedSearchResult(undefined)!);
      return;
    }
    const e = configError(() => inDir(dir, () => loadServerConfig({ env: {} })));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toStartWith("no joblet-config.yml found; looked in: ");
    for (const p of jobletConfigCandidates(dir)) expect(e.problems[0]).toContain(p);
    expect(e.problems[0]).toContain("JOBLET_CONFIG_PATH");
  });

  test("JOBLET_CONFIG_PATH comes before the standard locations", () => {
    const dir = tree({ "joblet-config.yml": "server:\n  port: 2222\n", "elsewhere/mine.yml": "server:\n  port: 3333\n" });
    const loaded = inDir(dir, () => loadServerConfig({ env: { JOBLET_CONFIG_PATH: join(dir, "elsewhere", "mine.yml") } }));
    expect(loaded.path).toBe(join(dir, "elsewhere", "mine.yml"));
    expect(loaded.config.server.port).toBe(3333);
  });

  test("--config comes before JOBLET_CONFIG_PATH", () => {
    const dir = tree({ "a.yml": "server:\n  port: 4444\n", "b.yml": "server:\n  port: 5555\n" });
    const loaded = loadServerConfig({ path: join(dir, "a.yml"), env: { JOBLET_CONFIG_PATH: join(dir, "b.yml") } });
    expect(loaded.path).toBe(join(dir, "a.yml"));
    expect(loaded.config.server.port).toBe(4444);
  });

  test("a relative --config is resolved against the working directory", () => {
    const dir = tree({ "sub/rel.yml": "server:\n  port: 6666\n" });
    const loaded = inDir(dir, () => loadServerConfig({ path: "sub/rel.yml", env: {} }));
    expect(loaded.path).toBe(join(dir, "sub", "rel.yml"));
    expect(loaded.config.server.port).toBe(6666);
  });

  test("a missing --config file is an error naming it, even when other configs exist", () => {
    const dir = tree({ "joblet-config.yml": MINIMAL });
    const missing = join(dir, "missing.yml");
    const e = configError(() => inDir(dir, () => loadServerConfig({ path: missing, env: {} })));
    expect(e.problems).toEqual([`${missing}: configuration file not found`]);
  });

  test("a missing JOBLET_CONFIG_PATH file is an error naming it and the variable", () => {
    const dir = tree({ "joblet-config.yml": MINIMAL });
    const missing = join(dir, "gone.yml");
    const e = configError(() => inDir(dir, () => loadServerConfig({ env: { JOBLET_CONFIG_PATH: missing } })));
    expect(e.problems).toEqual([`${missing}: configuration file not found (from JOBLET_CONFIG_PATH)`]);
  });

  test("invalid YAML is reported with the file", () => {
    const dir = tree({ "bad.yml": "server:\n  port: [1\n" });
    const e = configError(() => load(join(dir, "bad.yml")));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toStartWith(`${join(dir, "bad.yml")}: not valid YAML: `);
  });

  test("a directory instead of a file cannot be read", () => {
    const dir = tree({ "d/x": "" });
    const e = configError(() => load(join(dir, "d")));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toStartWith(`${join(dir, "d")}: cannot read: `);
  });

  test("an empty file is a valid configuration with every default", () => {
    const dir = tree({ "empty.yml": "" });
    const loaded = load(join(dir, "empty.yml"));
    expect(loaded.config.security.default_role).toBe("none");
    expect(loaded.config.server.port).toBe(50051);
    expect(loaded.config.ciMode).toBe(false);
    expect(loaded.warnings).toEqual([]);
    expect(loaded.pending).toEqual([]);
  });
});

describe("the guide's server configurations load", () => {
  test.each([["joblet-config.full.yml"], ["joblet-config.production.yml"], ["joblet-config.development.yml"], ["joblet-config.ci.yml"]] as const)(
    "%s",
    (name) => {
      const loaded = load(join(SEED, name));
      expect(loaded.path).toBe(join(SEED, name));
      expect(loaded.warnings).toEqual([]);
      expect(loaded.config.server.tls.enabled).toBe(true);
      if (!existsSync(SYSTEM_RUNTIME)) {
        expect(loaded.runtimePath).toBeUndefined();
        expect(loaded.config.runtime.allowed_mounts).toEqual(DEFAULT_ALLOWED_MOUNTS);
      }
    },
  );

  test("with the ubuntu runtime-config.yml installed next to it", () => {
    const dir = tree();
    copyFileSync(join(SEED, "joblet-config.full.yml"), join(dir, "joblet-config.yml"));
    copyFileSync(join(SEED, "runtime-config-ubuntu.yml"), join(dir, "runtime-config.yml"));
    const loaded = load(join(dir, "joblet-config.yml"));
    expect(loaded.runtimePath).toBe(join(dir, "runtime-config.yml"));
    expect(loaded.config.runtime.allowed_mounts).toContain("/etc/ca-certificates");
    expect(loaded.warnings).toEqual([]);
  });

  test("errors are reported without a file prefix, with the unknown-key warnings kept", () => {
    const dir = tree({ "c.yml": 'joblet:\n  maxConcurrentJobs: "abc"\n  bogus: 1\n' });
    const e = configError(() => load(join(dir, "c.yml")));
    expect(e.problems).toEqual(['joblet.maxConcurrentJobs: expected a positive integer, got "abc"']);
    expect(e.warnings).toEqual(["joblet.bogus: unknown key (ignored)"]);
    expect(e.message).toBe('joblet.maxConcurrentJobs: expected a positive integer, got "abc"');
  });

  test("unknown keys alone are returned as warnings", () => {
    const dir = tree({ "c.yml": "server:\n  port: 7000\n  colour: blue\nextra: 1\n" });
    const loaded = load(join(dir, "c.yml"));
    expect(loaded.config.server.port).toBe(7000);
    expect(loaded.warnings.toSorted()).toEqual(["extra: unknown key (ignored)", "server.colour: unknown key (ignored)"]);
  });
});

describe("runtime-config.yml", () => {
  const RUNTIME = 'runtime:\n  base_path: "/srv/runtimes"\n  allowed_mounts: ["/usr/bin", "/etc/ssl"]\n';

  test("the one next to the main file is picked up", () => {
    const dir = tree({ "joblet-config.yml": MINIMAL, "runtime-config.yml": RUNTIME });
    const loaded = load(join(dir, "joblet-config.yml"));
    expect(loaded.runtimePath).toBe(join(dir, "runtime-config.yml"));
    expect(loaded.config.runtime).toEqual({ base_path: "/srv/runtimes", common_paths: [], allowed_mounts: ["/usr/bin", "/etc/ssl"] });
  });

  test("it takes precedence over a runtime section in the main file", () => {
    const dir = tree({ "joblet-config.yml": `${MINIMAL}runtime:\n  base_path: "/from/main"\n`, "runtime-config.yml": RUNTIME });
    expect(load(join(dir, "joblet-config.yml")).config.runtime.base_path).toBe("/srv/runtimes");
  });

  test("without one, the main file's runtime section (or the defaults) apply", () => {
    if (existsSync(SYSTEM_RUNTIME)) return; // a system runtime-config.yml would be picked up instead
    const dir = tree({ "joblet-config.yml": `${MINIMAL}runtime:\n  base_path: "/from/main"\n`, "plain/joblet-config.yml": MINIMAL });
    const withSection = load(join(dir, "joblet-config.yml"));
    expect(withSection.runtimePath).toBeUndefined();
    expect(withSection.config.runtime.base_path).toBe("/from/main");
    const plain = load(join(dir, "plain", "joblet-config.yml"));
    expect(plain.config.runtime).toEqual({ base_path: "/opt/joblet/runtimes", common_paths: [], allowed_mounts: DEFAULT_ALLOWED_MOUNTS });
  });

  test("its errors and warnings are prefixed with its path", () => {
    const dir = tree({ "joblet-config.yml": MINIMAL, "runtime-config.yml": "runtime:\n  allowed_mounts: [lib]\n  distro: x\n" });
    const rt = join(dir, "runtime-config.yml");
    const e = configError(() => load(join(dir, "joblet-config.yml")));
    expect(e.problems).toEqual([`${rt}: runtime.allowed_mounts[0]: expected an absolute path, got "lib"`]);
    expect(e.warnings).toEqual([`${rt}: runtime.distro: unknown key (ignored)`]);
  });

  test("its errors are reported together with the main file's", () => {
    const dir = tree({ "joblet-config.yml": "server:\n  port: 0\n", "runtime-config.yml": "runtime:\n  base_path: rel\n" });
    const e = configError(() => load(join(dir, "joblet-config.yml")));
    expect(e.problems).toEqual([
      "server.port: expected a port number 1-65535, got 0",
      `${join(dir, "runtime-config.yml")}: runtime.base_path: expected an absolute path, got "rel"`,
    ]);
  });

  test("invalid YAML in it names it", () => {
    const dir = tree({ "joblet-config.yml": MINIMAL, "runtime-config.yml": "runtime: [\n" });
    const e = configError(() => load(join(dir, "joblet-config.yml")));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toStartWith(`${join(dir, "runtime-config.yml")}: not valid YAML: `);
  });

  test("JOBLET_RUNTIME_CONFIG_PATH comes before the file next to the main one", () => {
    const dir = tree({
      "joblet-config.yml": MINIMAL,
      "runtime-config.yml": RUNTIME,
      "other/rt.yml": 'runtime:\n  base_path: "/other"\n',
    });
    const loaded = load(join(dir, "joblet-config.yml"), { JOBLET_RUNTIME_CONFIG_PATH: join(dir, "other", "rt.yml") });
    expect(loaded.runtimePath).toBe(join(dir, "other", "rt.yml"));
    expect(loaded.config.runtime.base_path).toBe("/other");
  });

  test("a missing JOBLET_RUNTIME_CONFIG_PATH file is an error naming it and the variable", () => {
    const dir = tree({ "joblet-config.yml": MINIMAL, "runtime-config.yml": RUNTIME });
    const missing = join(dir, "nope", "runtime.yml");
    const e = configError(() => load(join(dir, "joblet-config.yml"), { JOBLET_RUNTIME_CONFIG_PATH: missing }));
    expect(e.problems).toEqual([`${missing}: runtime configuration file not found (from JOBLET_RUNTIME_CONFIG_PATH)`]);
  });
});

describe("JOBLET_* environment overrides", () => {
  const dir = tree({ "joblet-config.yml": 'server:\n  address: "0.0.0.0"\n  port: 50051\n  nodeId: "from-file"\njoblet:\n  maxConcurrentJobs: 100\nlogging:\n  level: "info"\n' });
  const file = join(dir, "joblet-config.yml");

  test("the file's values apply when no variable is set", () => {
    const c = load(file).config;
    expect([c.logging.level, c.server.address, c.server.port, c.server.nodeId, c.joblet.maxConcurrentJobs, c.ciMode]).toEqual([
      "info",
      "0.0.0.0",
      50051,
      "from-file",
      100,
      false,
    ]);
  });

  test("each variable replaces its key", () => {
    const c = load(file, {
      JOBLET_LOG_LEVEL: "debug",
      JOBLET_SERVER_ADDRESS: "127.0.0.1",
      JOBLET_SERVER_PORT: "6001",
      JOBLET_NODE_ID: "8f94c5b2-1234-5678-9abc-def012345678",
      JOBLET_MAX_JOBS: "7",
      JOBLET_CI_MODE: "true",
    }).config;
    expect(c.logging.level).toBe("debug");
    expect(c.server.address).toBe("127.0.0.1");
    expect(c.server.port).toBe(6001);
    expect(c.server.nodeId).toBe("8f94c5b2-1234-5678-9abc-def012345678");
    expect(c.joblet.maxConcurrentJobs).toBe(7);
    expect(c.ciMode).toBe(true);
  });

  test.each([["1", true], ["yes", true], ["TRUE", true], ["0", false], ["false", false], ["no", false]] as const)("JOBLET_CI_MODE=%s is %p", (v, on) => {
    expect(load(file, { JOBLET_CI_MODE: v }).config.ciMode).toBe(on);
  });

  test.each([
    ["JOBLET_SERVER_PORT", "abc", 'JOBLET_SERVER_PORT: expected a port number 1-65535, got "abc"'],
    ["JOBLET_SERVER_PORT", "70000", "JOBLET_SERVER_PORT: expected a port number 1-65535, got 70000"],
    ["JOBLET_SERVER_PORT", "0", "JOBLET_SERVER_PORT: expected a port number 1-65535, got 0"],
    ["JOBLET_SERVER_PORT", "80.5", 'JOBLET_SERVER_PORT: expected a port number 1-65535, got "80.5"'],
    ["JOBLET_LOG_LEVEL", "loud", 'JOBLET_LOG_LEVEL: expected one of "debug", "info", "warn", "error", got "loud"'],
    ["JOBLET_MAX_JOBS", "0", "JOBLET_MAX_JOBS: expected a positive integer, got 0"],
    ["JOBLET_MAX_JOBS", "-3", 'JOBLET_MAX_JOBS: expected a positive integer, got "-3"'],
    ["JOBLET_MAX_JOBS", "lots", 'JOBLET_MAX_JOBS: expected a positive integer, got "lots"'],
    ["JOBLET_CI_MODE", "maybe", 'JOBLET_CI_MODE: expected true or false, got "maybe"'],
    ["JOBLET_SERVER_ADDRESS", "not a host", 'JOBLET_SERVER_ADDRESS: expected an IP address or host name, got "not a host"'],
  ] as const)("%s=%p is an error naming the variable", (name, value, message) => {
    const e = configError(() => load(file, { [name]: value }));
    expect(e.problems).toEqual([message]);
  });

  test("every bad variable is reported at once", () => {
    const e = configError(() =>
      load(file, { JOBLET_SERVER_PORT: "abc", JOBLET_LOG_LEVEL: "loud", JOBLET_MAX_JOBS: "0", JOBLET_CI_MODE: "maybe", JOBLET_SERVER_ADDRESS: "a b" }),
    );
    expect(e.problems.map((p) => p.split(":")[0]).toSorted()).toEqual(
      ["JOBLET_CI_MODE", "JOBLET_LOG_LEVEL", "JOBLET_MAX_JOBS", "JOBLET_SERVER_ADDRESS", "JOBLET_SERVER_PORT"].toSorted(),
    );
  });

  test("empty variables are ignored", () => {
    const c = load(file, { JOBLET_SERVER_PORT: "", JOBLET_LOG_LEVEL: "", JOBLET_CI_MODE: "" }).config;
    expect(c.server.port).toBe(50051);
    expect(c.logging.level).toBe("info");
    expect(c.ciMode).toBe(false);
  });

  test("loadServerConfig reads process.env when no env is given", () => {
    const saved = process.env.JOBLET_SERVER_PORT;
    process.env.JOBLET_SERVER_PORT = "6543";
    try {
      expect(loadServerConfig({ path: file }).config.server.port).toBe(6543);
    } finally {
      if (saved === undefined) delete process.env.JOBLET_SERVER_PORT;
      else process.env.JOBLET_SERVER_PORT = saved;
    }
  });

  // load.ts promises "Throws ConfigError listing every problem", but applyEnv only runs once the
  // files are clean, so a bad variable is not mentioned until the file has been fixed.
  test("a bad variable is reported together with the file's own errors", () => {
    const bad = join(tree({ "c.yml": 'joblet:\n  maxConcurrentJobs: "abc"\n' }), "c.yml");
    const e = configError(() => load(bad, { JOBLET_SERVER_PORT: "abc" }));
    expect(e.problems.toSorted()).toEqual(
      ['JOBLET_SERVER_PORT: expected a port number 1-65535, got "abc"', 'joblet.maxConcurrentJobs: expected a positive integer, got "abc"'].toSorted(),
    );
  });
});

describe("keys accepted but not acted on yet", () => {
  test("a network section is listed", () => {
    const dir = tree({ "c.yml": `${MINIMAL}network:\n  enabled: true\n` });
    expect(load(join(dir, "c.yml")).pending).toEqual([{ key: "network", feature: "networking" }]);
  });

  test("the full seed lists every pending section it uses, each once", () => {
    const keys = load(join(SEED, "joblet-config.full.yml")).pending.map((p) => p.key);
    expect(keys).toEqual(["joblet.isolation", "network", "volume", "buffers.pubsub_buffer_size", "ipc.socket", "ipc.buffer_size", "ipc.reconnect_delay", "ipc.max_reconnects", "persist.server", "persist.ipc", "persist.storage.type", "persist.storage.local.events", "persist.storage.cloudwatch", "persist.storage.s3", "telemetry.ebpf_enabled", "telemetry.event_types", "state.socket", "state.buffer_size", "state.reconnect_delay", "state.pool", "state.client", "state.local.sync_interval", "state.storage", "cgroup.accounting.interval", "filesystem.workspace.default_quota", "monitoring"]);
  });

  test("a state backend not built yet is listed by its value; the built ones are not", () => {
    const pending = (backend: string) => load(join(tree({ "c.yml": `${MINIMAL}state:\n  backend: ${backend}\n` }), "c.yml")).pending.map((p) => p.key);
    expect(pending("dynamodb")).toEqual(["state.backend"]);
    expect(pending("local")).toEqual([]);
    expect(pending("memory")).toEqual([]);
  });

  test("the production seed lists its TLS cipher suites", () => {
    expect(load(join(SEED, "joblet-config.production.yml")).pending.map((p) => p.key)).toContain("server.tls.cipher_suites");
  });

  test("a config using only implemented keys has nothing pending", () => {
    const dir = tree({ "c.yml": `${MINIMAL}security:\n  enable_rbac: true\nlogging:\n  level: warn\n` });
    expect(load(join(dir, "c.yml")).pending).toEqual([]);
  });

  test("JOBLET_CI_MODE is listed when set; JOBLET_MAX_JOBS is acted on", () => {
    const dir = tree({ "c.yml": MINIMAL });
    const loaded = load(join(dir, "c.yml"), { JOBLET_MAX_JOBS: "5", JOBLET_CI_MODE: "1" });
    expect(loaded.pending.map((p) => p.key)).toEqual(["JOBLET_CI_MODE"]);
    expect(loaded.config.joblet.maxConcurrentJobs).toBe(5);
    expect(load(join(dir, "c.yml"), { JOBLET_MAX_JOBS: "5" }).pending).toEqual([NOT_IMPLEMENTED_ENV.find((p) => p.key === "JOBLET_MAX_JOBS")!]);
    expect(load(join(dir, "c.yml"), { JOBLET_LOG_LEVEL: "debug", JOBLET_SERVER_PORT: "6000" }).pending).toEqual([]);
  });

  test("a runtime section in both files is listed once", () => {
    const dir = tree({ "joblet-config.yml": `${MINIMAL}runtime:\n  base_path: /a\n`, "runtime-config.yml": "runtime:\n  base_path: /b\n" });
    expect(load(join(dir, "joblet-config.yml")).pending.map((p) => p.key)).toEqual(["runtime.base_path"]);
  });
});

describe("rnx-config.yml", () => {
  const MULTI = join(SEED, "rnx-config.multi.yml");
  const SINGLE = join(SEED, "rnx-config.single.yml");

  test("the standard locations, in order", () => {
    expect(rnxConfigCandidates("/w", "/home/u")).toEqual([
      "/w/rnx-config.yml",
      "/w/config/rnx-config.yml",
      "/home/u/.rnx/rnx-config.yml",
      "/etc/joblet/rnx-config.yml",
      "/opt/joblet/config/rnx-config.yml",
    ]);
  });

  test("an explicit path is read and validated", () => {
    const loaded = loadRnxConfig(MULTI, {});
    expect(loaded.path).toBe(MULTI);
    expect(loaded.warnings).toEqual([]);
    expect(Object.keys(loaded.config.nodes)).toEqual(["production", "staging", "development", "viewer"]);
  });

  test("RNX_CONFIG is used without an explicit path", () => {
    const loaded = loadRnxConfig(undefined, { RNX_CONFIG: SINGLE });
    expect(loaded.path).toBe(SINGLE);
    expect(Object.keys(loaded.config.nodes)).toEqual(["default"]);
  });

  test("an explicit path comes before RNX_CONFIG", () => {
    expect(loadRnxConfig(MULTI, { RNX_CONFIG: SINGLE }).path).toBe(MULTI);
  });

  test("RNX_CONFIG comes before the standard locations", () => {
    const dir = tree({ "rnx-config.yml": "nodes:\n  here:\n    address: h:1\n" });
    expect(inDir(dir, () => loadRnxConfig(undefined, { RNX_CONFIG: SINGLE })).path).toBe(SINGLE);
  });

  test("./rnx-config.yml comes before ./config/rnx-config.yml", () => {
    const dir = tree({ "rnx-config.yml": "nodes:\n  top:\n    address: h:1\n", "config/rnx-config.yml": "nodes:\n  sub:\n    address: h:2\n" });
    const loaded = inDir(dir, () => loadRnxConfig(undefined, {}));
    expect(loaded.path).toBe(join(dir, "rnx-config.yml"));
    expect(Object.keys(loaded.config.nodes)).toEqual(["top"]);
  });

  test("./config/rnx-config.yml is used when there is no ./rnx-config.yml", () => {
    const dir = tree({ "config/rnx-config.yml": "nodes:\n  sub:\n    address: h:2\n" });
    expect(inDir(dir, () => loadRnxConfig(undefined, {})).path).toBe(join(dir, "config", "rnx-config.yml"));
  });

  test("a missing explicit file is an error naming it", () => {
    const missing = join(ROOT, "no-such-rnx.yml");
    expect(configError(() => loadRnxConfig(missing, {})).problems).toEqual([`${missing}: client configuration not found`]);
  });

  test("a missing RNX_CONFIG file is an error naming it and the variable", () => {
    const missing = join(ROOT, "no-such-rnx.yml");
    expect(configError(() => loadRnxConfig(undefined, { RNX_CONFIG: missing })).problems).toEqual([
      `${missing}: client configuration not found (from RNX_CONFIG)`,
    ]);
  });

  test("~/ is the home directory", () => {
    const name = `no-such-rnx-${process.pid}-${Date.now()}.yml`;
    expect(configError(() => loadRnxConfig(`~/${name}`, {})).problems).toEqual([`${join(homedir(), name)}: client configuration not found`]);
  });

  test("a file without nodes is an error naming the file and the key", () => {
    const dir = tree({ "rnx.yml": 'version: "3.0"\ndefault_node: "default"\n' });
    const e = configError(() => loadRnxConfig(join(dir, "rnx.yml"), {}));
    expect(e.problems).toEqual([`${join(dir, "rnx.yml")}: nodes: expected a mapping, got nothing`]);
  });

  test("bad values are errors naming the file and the key; unknown keys are warnings", () => {
    const dir = tree({ "rnx.yml": "nodes:\n  a:\n    address: nowhere\n    colour: red\n", "ok.yml": "nodes:\n  a:\n    address: h:1\n    colour: red\n" });
    const e = configError(() => loadRnxConfig(join(dir, "rnx.yml"), {}));
    expect(e.problems).toEqual([`${join(dir, "rnx.yml")}: nodes.a.address: expected "host:port", e.g. "localhost:50051", got "nowhere"`]);
    expect(loadRnxConfig(join(dir, "ok.yml"), {}).warnings).toEqual([`${join(dir, "ok.yml")}: nodes.a.colour: unknown key (ignored)`]);
  });

  test("invalid YAML is an error naming the file", () => {
    const dir = tree({ "rnx.yml": "nodes: [\n" });
    const e = configError(() => loadRnxConfig(join(dir, "rnx.yml"), {}));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toStartWith(`${join(dir, "rnx.yml")}: `);
  });
});

describe("selectNode", () => {
  const multi = () => loadRnxConfig(join(SEED, "rnx-config.multi.yml"), {}).config;

  test("default_node without --node", () => {
    const { name, node } = selectNode(multi());
    expect(name).toBe("production");
    expect(node.address).toBe("prod.joblet.company.com:50051");
  });

  test("--node picks another node", () => {
    const { name, node } = selectNode(multi(), "staging");
    expect(name).toBe("staging");
    expect(node.address).toBe("staging.joblet.company.com:50051");
    expect(node.key).toBeUndefined();
  });

  test("the single-node seed's node is the default", () => {
    expect(selectNode(loadRnxConfig(join(SEED, "rnx-config.single.yml"), {}).config).name).toBe("default");
  });

  test("an unknown node is an error listing the known ones", () => {
    const e = configError(() => selectNode(multi(), "qa"));
    expect(e.problems).toEqual(['node "qa" is not in the client configuration (known: production, staging, development, viewer)']);
  });

  test("a default_node that is not defined is an error too", () => {
    const dir = tree({ "rnx.yml": "nodes:\n  a:\n    address: h:1\n" }); // default_node defaults to "default"
    const e = configError(() => selectNode(loadRnxConfig(join(dir, "rnx.yml"), {}).config));
    expect(e.problems).toEqual(['node "default" is not in the client configuration (known: a)']);
  });

  test("no nodes at all", () => {
    const dir = tree({ "rnx.yml": "nodes: {}\n" });
    const e = configError(() => selectNode(loadRnxConfig(join(dir, "rnx.yml"), {}).config, "x"));
    expect(e.problems).toEqual(['node "x" is not in the client configuration (known: none)']);
  });
});
