// `joblet --config=FILE --validate` and `rnx nodes`, through the compiled binary: the guide's
// examples pass, broken files fail with every problem named, and client credentials never print.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, requireBinary } from "../helpers/paths";
import { joblet, rnx } from "../helpers/run";

const FIXTURES = join(REPO, "test", "fixtures", "config");
const SEED = join(FIXTURES, "seed");
const SERVER_SEEDS = ["joblet-config.full.yml", "joblet-config.production.yml", "joblet-config.development.yml", "joblet-config.ci.yml"] as const;
const NOT_IMPLEMENTED_HEADER = "not implemented yet (accepted, but no effect in this version):";

let tmp = "";
beforeAll(() => {
  requireBinary();
  tmp = realpathSync(mkdtempSync(join(tmpdir(), "validate-e2e-")));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const validate = (file: string, opts?: Parameters<typeof joblet>[1]) => joblet([`--config=${file}`, "--validate"], opts);
const lines = (s: string) => s.trimEnd().split("\n");

/** The pending-key lines under the "not implemented yet" header, without their indentation. */
function pendingSection(stdout: string): string[] {
  const all = lines(stdout);
  const start = all.indexOf(NOT_IMPLEMENTED_HEADER);
  if (start < 0) return [];
  const out: string[] = [];
  for (const l of all.slice(start + 1)) {
    if (!l.startsWith("  ")) break;
    out.push(l.trim());
  }
  return out;
}

describe("joblet --validate: the guide's server configurations", () => {
  test.each(SERVER_SEEDS)("%s validates: exit 0, OK", (name) => {
    const path = join(SEED, name);
    const r = validate(path);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(lines(r.stdout).at(-1)).toBe("OK");
    expect(lines(r.stdout)[0]).toBe(`configuration: ${path}`);
    expect(r.stdout).not.toContain("invalid");
    expect(r.stdout).not.toContain("unknown key");
  });

  test("the full seed lists the sections not implemented yet", () => {
    const r = validate(join(SEED, "joblet-config.full.yml"));
    expect(r.code).toBe(0);
    const pending = pendingSection(r.stdout);
    expect(pending).toContain("network: networking");
    expect(pending).toContain("volume: volumes");
    expect(pending).toContain("monitoring: monitoring and Prometheus metrics");
    expect(pending.map((l) => l.split(":")[0])).toEqual([
      "joblet.isolation",
      "network",
      "volume",
      "buffers.pubsub_buffer_size",
      "ipc.socket",
      "ipc.buffer_size",
      "ipc.reconnect_delay",
      "ipc.max_reconnects",
      "persist.server",
      "persist.ipc",
      "persist.storage.type",
      "persist.storage.local.events",
      "persist.storage.cloudwatch",
      "persist.storage.s3",
      "telemetry.ebpf_enabled",
      "telemetry.event_types",
      "state.socket",
      "state.buffer_size",
      "state.reconnect_delay",
      "state.pool",
      "state.client",
      "state.local.sync_interval",
      "state.storage",
      "cgroup.accounting.interval",
      "filesystem.workspace.default_quota",
      "monitoring",
    ]);
    // the section comes before the verdict
    expect(lines(r.stdout).indexOf(NOT_IMPLEMENTED_HEADER)).toBeLessThan(lines(r.stdout).indexOf("OK"));
  });

  test("the full seed's placeholder certificates are warnings, not errors", () => {
    const r = validate(join(SEED, "joblet-config.full.yml"));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("warning: security.serverCert: not a valid PEM certificate");
    expect(r.stdout).toContain("warning: security.serverKey: not a valid PEM private key");
    expect(r.stdout).toContain("warning: security.caCert: not a valid PEM certificate");
  });

  test("the production seed lists its cipher suites as not implemented", () => {
    const r = validate(join(SEED, "joblet-config.production.yml"));
    expect(r.code).toBe(0);
    expect(pendingSection(r.stdout).map((l) => l.split(":")[0])).toContain("server.tls.cipher_suites");
  });

  test("the project's config/joblet-config.yml validates", () => {
    const r = validate(join(REPO, "config", "joblet-config.yml"));
    expect(r.code).toBe(0);
    expect(lines(r.stdout).at(-1)).toBe("OK");
    expect(r.stdout).not.toContain("unknown key");
  });

  test("a file with only implemented keys has no pending section", () => {
    const file = join(tmp, "implemented-only.yml");
    writeFileSync(file, 'server:\n  port: 50051\nsecurity:\n  default_role: "none"\nlogging:\n  level: warn\n');
    const r = validate(file);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(NOT_IMPLEMENTED_HEADER);
    expect(r.stdout).toContain("warning: security: no certificates configured");
    expect(lines(r.stdout).at(-1)).toBe("OK");
  });

  test("with the ubuntu runtime-config.yml next to it", () => {
    const dir = join(tmp, "installed");
    mkdirSync(dir);
    copyFileSync(join(SEED, "joblet-config.ci.yml"), join(dir, "joblet-config.yml"));
    copyFileSync(join(SEED, "runtime-config-ubuntu.yml"), join(dir, "runtime-config.yml"));
    const r = validate(join(dir, "joblet-config.yml"));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`runtime configuration: ${join(dir, "runtime-config.yml")}`);
    expect(pendingSection(r.stdout)).toEqual(expect.arrayContaining(["runtime.base_path: runtimes", "runtime.common_paths: runtimes"]));
    expect(pendingSection(r.stdout).some((l) => l.startsWith("runtime.allowed_mounts"))).toBe(false); // acted on
    expect(lines(r.stdout).at(-1)).toBe("OK");
  });
});

describe("joblet --validate: broken configurations", () => {
  test("bad values: each problem with its key path, then the count, exit 1", () => {
    const r = validate(join(FIXTURES, "broken.yml"));
    expect(r.code).toBe(1);
    const out = lines(r.stdout);
    expect(out).toContain('joblet.maxConcurrentJobs: expected a positive integer, got "abc"');
    expect(out).toContain("server.port: expected a port number 1-65535, got 99999");
    expect(out.at(-1)).toBe("invalid: 2 problems");
    expect(r.stdout).not.toContain("OK");
  });

  test("an unknown key is a warning naming it, and the file still validates", () => {
    const r = validate(join(FIXTURES, "unknown-key.yml"));
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toContain("warning: joblet.bogus: unknown key (ignored)");
    expect(lines(r.stdout).at(-1)).toBe("OK");
  });

  test("an unknown key next to an error: both printed, exit 1", () => {
    const file = join(tmp, "both.yml");
    writeFileSync(file, "network:\n  networks:\n    bridge:\n      foo: 1\ncgroup:\n  version: v3\n");
    const r = validate(file);
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toEqual([
      "warning: network.networks.bridge.foo: unknown key (ignored)",
      'cgroup.version: expected one of "auto", "v1", "v2", got "v3"',
      "invalid: 1 problem",
    ]);
  });

  test("security that cannot be turned off", () => {
    const file = join(tmp, "insecure.yml");
    writeFileSync(file, "server:\n  tls:\n    enabled: false\nsecurity:\n  require_client_cert: false\n");
    const r = validate(file);
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toEqual([
      "server.tls.enabled: expected true (TLS cannot be turned off), got false",
      "security.require_client_cert: expected true (client certificates cannot be turned off), got false",
      "invalid: 2 problems",
    ]);
  });

  test("invalid YAML is reported with the file", () => {
    const path = join(FIXTURES, "invalid-yaml.yml");
    const r = validate(path);
    expect(r.code).toBe(1);
    const out = lines(r.stdout);
    expect(out[0]).toStartWith(`${path}: not valid YAML: `);
    expect(out.at(-1)).toBe("invalid: 1 problem");
  });

  test("a missing file: exit 1 with its path", () => {
    const path = join(tmp, "does-not-exist.yml");
    const r = validate(path);
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toEqual([`${path}: configuration file not found`, "invalid: 1 problem"]);
  });

  test("a relative --config is taken from the working directory", () => {
    const r = joblet(["--config=seed/joblet-config.ci.yml", "--validate"], { cwd: FIXTURES });
    expect(r.code).toBe(0);
    expect(lines(r.stdout)[0]).toBe(`configuration: ${join(SEED, "joblet-config.ci.yml")}`);
  });

  test("--config FILE (two arguments) works too", () => {
    const r = joblet(["--config", join(FIXTURES, "broken.yml"), "--validate"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('joblet.maxConcurrentJobs: expected a positive integer, got "abc"');
  });

  test("a stray argument is a usage error", () => {
    const r = joblet([`--config=${join(SEED, "joblet-config.ci.yml")}`, "--validate", "extra"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--validate takes only --config=FILE, got extra");
  });

  test("a runtime-config.yml error is printed with its path", () => {
    const dir = join(tmp, "bad-runtime");
    mkdirSync(dir);
    copyFileSync(join(SEED, "joblet-config.ci.yml"), join(dir, "joblet-config.yml"));
    writeFileSync(join(dir, "runtime-config.yml"), "runtime:\n  allowed_mounts:\n    - usr/bin\n");
    const r = validate(join(dir, "joblet-config.yml"));
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toEqual([
      `${join(dir, "runtime-config.yml")}: runtime.allowed_mounts[0]: expected an absolute path, got "usr/bin"`,
      "invalid: 1 problem",
    ]);
  });
});

describe("joblet --validate: environment", () => {
  test("JOBLET_CONFIG_PATH names the file when --config is not given", () => {
    const path = join(SEED, "joblet-config.development.yml");
    const r = joblet(["--validate"], { env: { JOBLET_CONFIG_PATH: path }, cwd: tmp });
    expect(r.code).toBe(0);
    expect(lines(r.stdout)[0]).toBe(`configuration: ${path}`);
  });

  test("a bad override is an error naming the variable", () => {
    const r = validate(join(SEED, "joblet-config.ci.yml"), { env: { JOBLET_SERVER_PORT: "abc" } });
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toEqual(['JOBLET_SERVER_PORT: expected a port number 1-65535, got "abc"', "invalid: 1 problem"]);
  });

  test("several bad overrides are all reported", () => {
    const r = validate(join(SEED, "joblet-config.ci.yml"), { env: { JOBLET_LOG_LEVEL: "loud", JOBLET_MAX_JOBS: "0", JOBLET_CI_MODE: "maybe" } });
    expect(r.code).toBe(1);
    const out = lines(r.stdout);
    expect(out).toContain('JOBLET_LOG_LEVEL: expected one of "debug", "info", "warn", "error", got "loud"');
    expect(out).toContain("JOBLET_MAX_JOBS: expected a positive integer, got 0");
    expect(out).toContain('JOBLET_CI_MODE: expected true or false, got "maybe"');
    expect(out.at(-1)).toBe("invalid: 3 problems");
  });

  test("JOBLET_MAX_JOBS sets joblet.maxConcurrentJobs; a bad value names the variable", () => {
    const file = join(tmp, "max-jobs.yml");
    writeFileSync(file, "server:\n  port: 50051\n");
    const r = validate(file, { env: { JOBLET_MAX_JOBS: "5" } });
    expect(r.code).toBe(0);
    expect(pendingSection(r.stdout)).toEqual([]);
    const bad = validate(file, { env: { JOBLET_MAX_JOBS: "many" } });
    expect(bad.code).toBe(1);
    expect(bad.stdout + bad.stderr).toContain("JOBLET_MAX_JOBS");
  });
});

describe("rnx nodes", () => {
  const MULTI = join(SEED, "rnx-config.multi.yml");
  const NODES = ["production", "staging", "development", "viewer"];

  test("lists all four nodes with credentials masked", () => {
    const r = rnx([`--config=${MULTI}`, "nodes"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Nodes in ${MULTI}:`);
    for (const n of NODES) expect(r.stdout).toMatch(new RegExp(`^[* ] ${n}$`, "m"));
    expect(r.stdout).toMatch(/^\* production$/m); // the default node is marked
    expect(r.stdout).toContain("Address: staging.joblet.company.com:50051");
    expect(r.stdout.match(/Cert: \*\*\*/g)).toHaveLength(4);
    expect(r.stdout.match(/Key: \*\*\*/g)).toHaveLength(1); // only production embeds a key
    expect(r.stdout.match(/Key: \(none\)/g)).toHaveLength(3);
    expect(r.stdout).not.toContain("BEGIN");
    expect(r.stdout).not.toContain("END");
    expect(r.stdout).not.toContain("certificate");
  });

  test("--json gives valid JSON with four entries and no PEM material", () => {
    const r = rnx([`--config=${MULTI}`, "nodes", "--json"]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; address: string; default: boolean; cert: string; key: string; ca: string }[];
    expect(list).toHaveLength(4);
    expect(list.map((n) => n.name)).toEqual(NODES);
    for (const n of list) {
      expect(JSON.stringify(n)).not.toContain("BEGIN");
      expect(n.cert).toBe("***");
    }
    expect(list.filter((n) => n.default).map((n) => n.name)).toEqual(["production"]);
    expect(list.find((n) => n.name === "staging")).toMatchObject({ key: "(none)", ca: "(none)" });
  });

  test("--node marks the node that would be used", () => {
    const r = rnx([`--config=${MULTI}`, "--node", "staging", "nodes", "--json"]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; default: boolean }[];
    expect(list.filter((n) => n.default).map((n) => n.name)).toEqual(["staging"]);
  });

  test("RNX_CONFIG names the file when --config is not given", () => {
    const single = join(SEED, "rnx-config.single.yml");
    const r = rnx(["nodes"], { env: { RNX_CONFIG: single }, cwd: tmp });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Nodes in ${single}:`);
    expect(r.stdout).toMatch(/^\* default$/m);
    expect(r.stdout).not.toContain("BEGIN");
  });

  test("--config=~/… is read from the home directory", () => {
    const home = join(tmp, "home");
    mkdirSync(join(home, ".rnx"), { recursive: true });
    copyFileSync(join(SEED, "rnx-config.single.yml"), join(home, ".rnx", "rnx-config.yml"));
    const r = rnx(["--config=~/.rnx/rnx-config.yml", "nodes"], { env: { HOME: home }, cwd: tmp });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Nodes in ${join(home, ".rnx", "rnx-config.yml")}:`);
  });

  test("a client configuration without nodes is an error naming the file and key", () => {
    const path = join(FIXTURES, "rnx-no-nodes.yml");
    const r = rnx([`--config=${path}`, "nodes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path}: nodes: expected a mapping, got nothing`);
  });

  test("a missing client configuration is an error naming it", () => {
    const path = join(tmp, "nope-rnx.yml");
    const r = rnx([`--config=${path}`, "nodes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path}: client configuration not found`);
  });
});
