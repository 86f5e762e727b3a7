// The configuration schemas (joblet-config.yml, runtime-config.yml, rnx-config.yml) run through
// checkDocument: the guide's examples validate, an empty file gets the secure defaults, and every
// bad value is reported with its key path, the accepted form and the value found.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { checkDocument, formatPath } from "../../src/config/check";
import { jobletConfigSchema } from "../../src/config/joblet-schema";
import { pendingKeysIn } from "../../src/config/not-implemented";
import { rnxConfigSchema } from "../../src/config/rnx-schema";
import { DEFAULT_ALLOWED_MOUNTS, runtimeConfigSchema } from "../../src/config/runtime-schema";
import { REPO } from "../helpers/paths";

const SEED = join(REPO, "test", "fixtures", "config", "seed");
const PROJECT_CONFIG = join(REPO, "config");
const yaml = (path: string): unknown => parse(readFileSync(path, "utf8"));

const joblet = (doc: unknown) => checkDocument(jobletConfigSchema, doc);
/** The configured value of an empty document: the defaults. */
const defaults = () => {
  const r = joblet({});
  if (!r.value) throw new Error(r.errors.join("\n"));
  return r.value;
};

describe("the guide's examples validate", () => {
  test.each([["joblet-config.full.yml"], ["joblet-config.production.yml"], ["joblet-config.development.yml"], ["joblet-config.ci.yml"]] as const)(
    "seed %s: no errors, no warnings",
    (name) => {
      const r = joblet(yaml(join(SEED, name)));
      expect(r.errors).toEqual([]);
      expect(r.warnings).toEqual([]);
      expect(r.value).toBeDefined();
    },
  );

  test.each([["rnx-config.single.yml"], ["rnx-config.multi.yml"]] as const)("seed %s: no errors, no warnings", (name) => {
    const r = checkDocument(rnxConfigSchema, yaml(join(SEED, name)));
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.value).toBeDefined();
  });

  test("seed runtime-config-ubuntu.yml: no errors, no warnings", () => {
    const r = checkDocument(runtimeConfigSchema, yaml(join(SEED, "runtime-config-ubuntu.yml")));
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.value?.runtime.allowed_mounts).toContain("/etc/resolv.conf");
    expect(r.value?.runtime.common_paths).toEqual(["/usr/local/bin", "/usr/local/lib", "/usr/lib/jvm", "/usr/local/node", "/usr/local/go"]);
  });

  test("the project's config/joblet-config.yml validates", () => {
    const r = joblet(yaml(join(PROJECT_CONFIG, "joblet-config.yml")));
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.value?.security.default_role).toBe("none");
  });

  test.each([["ubuntu"], ["rhel"], ["fedora"], ["alpine"]] as const)("the project's config/runtime-config-%s.yml validates", (distro) => {
    const r = checkDocument(runtimeConfigSchema, yaml(join(PROJECT_CONFIG, `runtime-config-${distro}.yml`)));
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.value?.runtime.allowed_mounts.length).toBeGreaterThan(0);
    for (const m of r.value?.runtime.allowed_mounts ?? []) expect(m.startsWith("/")).toBe(true);
  });

  test("the full seed's values come through converted", () => {
    const v = joblet(yaml(join(SEED, "joblet-config.full.yml"))).value!;
    expect(v.server.nodeId).toBe("8f94c5b2-1234-5678-9abc-def012345678");
    expect(v.server.keepalive).toEqual({ time: 120_000, timeout: 20_000 });
    expect(v.joblet.jobTimeout).toBe(24 * 3_600_000);
    expect(v.joblet.cleanupTimeout).toBe(30_000);
    expect(v.volume.max_size).toBe(100 * 1024 ** 3);
    expect(v.volume.default_size).toBe(1024 ** 3);
    expect(v.state.pool.health_check_timeout).toBe(500);
    expect(v.network.networks.bridge).toEqual({ cidr: "172.20.0.0/16", bridge_name: "joblet0", enable_nat: true, enable_icc: true });
    expect(v.network.networks.host).toEqual({ type: "host" });
    expect(v.logging.outputs[0]).toMatchObject({ type: "file", path: "/var/log/joblet/joblet.log", max_size: 100 * 1024 ** 2 });
    expect(v.logging.components).toEqual({ grpc: "warn", cgroup: "info", network: "info", volume: "info", auth: "info" });
    expect(v.security.default_role).toBe("viewer");
    expect(v.cgroup.version).toBe("v2");
    expect(v.telemetry.event_types).toEqual(["exec", "connect", "accept"]);
  });

  test("the development seed's 1TB volume limit is 2^40 bytes", () => {
    expect(joblet(yaml(join(SEED, "joblet-config.development.yml"))).value?.volume.max_size).toBe(1024 ** 4);
  });
});

describe("defaults of an empty document are the secure ones", () => {
  test("empty mapping, null document and empty YAML file are all accepted", () => {
    for (const doc of [{}, null, undefined, parse("")]) {
      const r = joblet(doc);
      expect(r.errors).toEqual([]);
      expect(r.warnings).toEqual([]);
      expect(r.value).toBeDefined();
    }
  });

  test("security", () => {
    const s = defaults().security;
    expect(s.default_role).toBe("none");
    expect(s.require_client_cert).toBe(true);
    expect(s.verify_client_cert).toBe(true);
    expect(s.enable_rbac).toBe(true);
    expect(s.audit.enabled).toBe(true);
    expect(s.serverCert).toBeUndefined();
  });

  test("server and TLS", () => {
    const s = defaults().server;
    expect(s.tls.enabled).toBe(true);
    expect(s.tls.min_version).toBe("1.3");
    expect(s.tls.cipher_suites).toEqual([]);
    expect(s.port).toBe(50051);
    expect(s.address).toBe("0.0.0.0");
    expect(s.max_message_size).toBe(104857600);
  });

  test("job sandbox", () => {
    const d = defaults();
    expect(d.filesystem.readonly_rootfs).toBe(true);
    expect(d.filesystem.enable_chroot).toBe(true);
    expect(d.process.default_user).toBe("nobody");
    expect(d.process.default_group).toBe("nogroup");
    expect(d.process.allow_setuid).toBe(false);
    expect(d.namespaces).toEqual(["pid", "mount", "network", "ipc", "uts", "cgroup"]);
    expect(d.joblet.validateCommands).toBe(true);
    expect(d.joblet.preserveFailedJobs).toBe(false);
    expect(d.joblet.maxConcurrentJobs).toBe(100);
    expect(d.joblet.jobTimeout).toBe(24 * 3_600_000);
  });

  test("state, logging and monitoring", () => {
    const d = defaults();
    expect(d.state.backend).toBe("local");
    expect(d.logging.level).toBe("info");
    expect(d.logging.outputs.map((o) => o.type)).toEqual(["stdout"]);
    expect(d.monitoring.bind_address).toBe("127.0.0.1:9090"); // loopback, not 0.0.0.0
    expect(d.version).toBe("3.0");
    expect(d.runtime).toEqual({ base_path: "/opt/joblet/runtimes", common_paths: [], allowed_mounts: DEFAULT_ALLOWED_MOUNTS });
  });

  test("runtime-config.yml defaults", () => {
    const r = checkDocument(runtimeConfigSchema, {});
    expect(r.errors).toEqual([]);
    expect(r.value?.runtime).toEqual({ base_path: "/opt/joblet/runtimes", common_paths: [], allowed_mounts: DEFAULT_ALLOWED_MOUNTS });
  });

  test("a partial section keeps the defaults of the keys it leaves out", () => {
    const v = joblet({ server: { port: 6000 }, security: { audit: { log_all_operations: true } } }).value!;
    expect(v.server.port).toBe(6000);
    expect(v.server.tls.min_version).toBe("1.3");
    expect(v.security.default_role).toBe("none");
    expect(v.security.audit.log_all_operations).toBe(true);
    expect(v.security.audit.log_failed_auth).toBe(true);
  });
});

describe("security settings that cannot be turned off", () => {
  test("tls.enabled: false and require_client_cert: false are errors", () => {
    const r = joblet({ server: { tls: { enabled: false } }, security: { require_client_cert: false } });
    expect(r.value).toBeUndefined();
    expect(r.errors).toEqual([
      "server.tls.enabled: expected true (TLS cannot be turned off), got false",
      "security.require_client_cert: expected true (client certificates cannot be turned off), got false",
    ]);
  });

  test("verify_client_cert: false is an error", () => {
    expect(joblet({ security: { verify_client_cert: false } }).errors).toEqual([
      "security.verify_client_cert: expected true (client certificate verification cannot be turned off), got false",
    ]);
  });

  test('a string "false" is not taken for true', () => {
    expect(joblet({ server: { tls: { enabled: "true" } } }).errors).toEqual(['server.tls.enabled: expected true (TLS cannot be turned off), got "true"']);
  });

  test("the sandbox cannot be loosened where that would hand out privileges", () => {
    expect(joblet({ process: { allow_setuid: true } }).errors).toEqual(["process.allow_setuid: expected false (jobs never gain privileges through setuid programs), got true"]);
    expect(joblet({ filesystem: { enable_chroot: false } }).errors).toEqual(["filesystem.enable_chroot: expected true (filesystem isolation cannot be turned off), got false"]);
    expect(joblet({ namespaces: ["mount", "network"] }).errors).toEqual(['namespaces: must include "pid" (jobs always get their own pid namespace)']);
    expect(joblet({ namespaces: ["pid", "mount"] }).value?.namespaces).toEqual(["pid", "mount"]); // network, ipc, uts, cgroup may be shared
  });

  test("TLS 1.1 is refused; 1.2 may be chosen", () => {
    expect(joblet({ server: { tls: { min_version: "1.1" } } }).errors).toEqual(['server.tls.min_version: expected one of "1.2", "1.3", got "1.1"']);
    expect(joblet({ server: { tls: { min_version: "1.2" } } }).value?.server.tls.min_version).toBe("1.2");
  });
});

describe("bad values report path, accepted form and value", () => {
  test.each([
    [{ server: { port: 99999 } }, "server.port: expected a port number 1-65535, got 99999"],
    [{ server: { port: "50051" } }, 'server.port: expected a port number 1-65535, got "50051"'],
    [{ server: { port: 6000, http_port: 6000 } }, "server.http_port: must differ from server.port (6000), or be 0 for no HTTPS endpoint"],
    [{ server: { http_port: 70000 } }, "server.http_port: expected a port number 1-65535, or 0 for no HTTPS endpoint, got 70000"],
    [{ server: { address: "not a host" } }, 'server.address: expected an IP address or host name, got "not a host"'],
    [{ joblet: { maxConcurrentJobs: "abc" } }, 'joblet.maxConcurrentJobs: expected a positive integer, got "abc"'],
    [{ joblet: { maxConcurrentJobs: 0 } }, "joblet.maxConcurrentJobs: expected a positive integer, got 0"],
    [{ joblet: { jobTimeout: "1 hour" } }, 'joblet.jobTimeout: expected a duration such as "500ms", "30s", "5m" or "1h30m", got "1 hour"'],
    [{ joblet: { defaultCpuLimit: -5 } }, "joblet.defaultCpuLimit: expected a non-negative integer (0 = unlimited), got -5"],
    [{ logging: { outputs: [{ type: "file" }] } }, 'logging.outputs[0].path: an output of type "file" needs a path'],
    [{ logging: { level: "loud" } }, 'logging.level: expected one of "debug", "info", "warn", "error", got "loud"'],
    [{ logging: { outputs: [{ type: "stdout" }, { type: "syslog" }] } }, 'logging.outputs[1].type: expected one of "stdout", "stderr", "file", got "syslog"'],
    [{ logging: { outputs: [{ path: "/var/log/x.log" }] } }, 'logging.outputs[0].type: expected one of "stdout", "stderr", "file", got nothing'],
    [{ logging: { components: { grpc: "verbose" } } }, 'logging.components.grpc: expected one of "debug", "info", "warn", "error", got "verbose"'],
    [{ namespaces: ["pid", "user"] }, 'namespaces[1]: expected one of "pid", "mount", "network", "ipc", "uts", "cgroup", got "user"'],
    [{ namespaces: "pid" }, 'namespaces: expected a list, got "pid"'],
    [{ cgroup: { version: "v3" } }, 'cgroup.version: expected one of "auto", "v1", "v2", got "v3"'],
    [{ cgroup: { enableControllers: ["memory", "rdma"] } }, 'cgroup.enableControllers[1]: expected one of "memory", "cpu", "io", "pids", "cpuset", got "rdma"'],
    [{ security: { default_role: "root" } }, 'security.default_role: expected one of "admin", "maintainer", "developer", "viewer", "reader", "none", got "root"'],
    [{ security: { audit: { log_file: "audit.log" } } }, 'security.audit.log_file: expected an absolute path, got "audit.log"'],
    [{ network: { networks: { bridge: { cidr: "172.20.0.0" } } } }, 'network.networks.bridge.cidr: expected an IPv4 CIDR such as "172.20.0.0/16", got "172.20.0.0"'],
    [{ network: { networks: { br: { bridge_name: "a-very-long-bridge-name" } } } }, 'network.networks.br.bridge_name: expected an interface name of at most 15 characters, got "a-very-long-bridge-name"'],
    [{ network: { dns: { servers: ["8.8.8.8", "not a host"] } } }, 'network.dns.servers[1]: expected an IP address or host name, got "not a host"'],
    [{ volume: { max_size: "lots" } }, 'volume.max_size: expected a size such as "512MB", "1GB" or a byte count, got "lots"'],
    [{ telemetry: { metrics_interval: "500ms" } }, 'telemetry.metrics_interval: expected a duration of at least "1s", got "500ms"'],
    [{ monitoring: { bind_address: "9090" } }, 'monitoring.bind_address: expected "host:port", e.g. "127.0.0.1:9090", got "9090"'],
    [{ state: { backend: "redis" } }, 'state.backend: expected one of "local", "memory", "dynamodb", got "redis"'],
    [{ state: { storage: { dynamodb: { batch_size: 26 } } } }, "state.storage.dynamodb.batch_size: expected a batch size 1-25, got 26"],
    [{ buffers: { chunk_size: 10 } }, "buffers.chunk_size: expected a chunk size in bytes (1024 to 67108864), got 10"],
    [{ filesystem: { readonly_rootfs: "yes" } }, 'filesystem.readonly_rootfs: expected true or false, got "yes"'],
    [{ process: { default_user: "" } }, 'process.default_user: expected a user name or uid, got ""'],
    [{ server: null }, "server: expected a mapping of settings, got null (an empty value)"],
    [{ server: { tls: [] } }, "server.tls: expected a mapping of settings, got a list"],
    [{ network: { networks: ["bridge"] } }, "network.networks: expected a mapping, got a list"],
    [{ version: "" }, 'version: expected a version string such as "3.0", got ""'],
  ] as const)("%j", (doc, message) => {
    const r = joblet(doc);
    expect(r.errors).toEqual([message]);
    expect(r.warnings).toEqual([]);
    expect(r.value).toBeUndefined();
  });

  test("a document that is not a mapping is reported at the top level", () => {
    expect(joblet("hello").errors).toEqual(['(top level): expected a mapping of settings, got "hello"']);
    expect(joblet([1, 2]).errors).toEqual(["(top level): expected a mapping of settings, got a list"]);
  });

  test("every problem in a document is reported, not just the first", () => {
    const r = joblet({
      server: { port: 99999 },
      joblet: { maxConcurrentJobs: "abc" },
      logging: { outputs: [{ type: "file" }] },
      namespaces: ["pid", "user"],
      cgroup: { version: "v3" },
    });
    expect(r.errors.toSorted()).toEqual(
      [
        "server.port: expected a port number 1-65535, got 99999",
        'joblet.maxConcurrentJobs: expected a positive integer, got "abc"',
        'logging.outputs[0].path: an output of type "file" needs a path',
        'namespaces[1]: expected one of "pid", "mount", "network", "ipc", "uts", "cgroup", got "user"',
        'cgroup.version: expected one of "auto", "v1", "v2", got "v3"',
      ].toSorted(),
    );
  });

  test("a numeric version is read as a version string", () => {
    expect(joblet({ version: 3 }).value?.version).toBe("3.0");
    expect(joblet({ version: "3.0" }).value?.version).toBe("3.0");
  });
});

describe("unknown keys are warnings with their full path", () => {
  test("top level", () => {
    const r = joblet({ bogus: 1 });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual(["bogus: unknown key (ignored)"]);
    expect(r.value).toBeDefined();
    expect(r.value as Record<string, unknown>).not.toHaveProperty("bogus");
  });

  test("nested section", () => {
    const r = joblet({ joblet: { bogus: true, maxConcurrentJobs: 7 } });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual(["joblet.bogus: unknown key (ignored)"]);
    expect(r.value?.joblet.maxConcurrentJobs).toBe(7); // the known keys still take effect
  });

  test("inside a map of networks", () => {
    const r = joblet({ network: { networks: { bridge: { cidr: "10.1.0.0/16", foo: 1 } } } });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual(["network.networks.bridge.foo: unknown key (ignored)"]);
    expect(r.value?.network.networks.bridge).toEqual({ cidr: "10.1.0.0/16" });
  });

  test("inside a list item", () => {
    const r = joblet({ logging: { outputs: [{ type: "stdout" }, { type: "stderr", colour: "red" }] } });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual(["logging.outputs[1].colour: unknown key (ignored)"]);
    expect(r.value?.logging.outputs.map((o) => o.type)).toEqual(["stdout", "stderr"]);
  });

  test("several unknown keys in several places are all reported", () => {
    const r = joblet({ extra: 1, server: { tls: { ciphers: [] }, prot: 1 }, security: { audit: { rotate: true } } });
    expect(r.errors).toEqual([]);
    expect(r.warnings.toSorted()).toEqual(
      ["extra: unknown key (ignored)", "server.tls.ciphers: unknown key (ignored)", "server.prot: unknown key (ignored)", "security.audit.rotate: unknown key (ignored)"].toSorted(),
    );
  });

  test("checking does not modify the caller's document", () => {
    const doc = { joblet: { bogus: 1 } };
    joblet(doc);
    expect(doc).toEqual({ joblet: { bogus: 1 } });
  });

  test("an unknown key and an error in the same document are both reported", () => {
    const r = joblet({ joblet: { bogus: 1, maxConcurrentJobs: "abc" } });
    expect(r.value).toBeUndefined();
    expect(r.errors).toEqual(['joblet.maxConcurrentJobs: expected a positive integer, got "abc"']);
    expect(r.warnings).toEqual(["joblet.bogus: unknown key (ignored)"]);
  });

  test("an unknown key and an error in different sections are both reported", () => {
    const r = joblet({ network: { networks: { bridge: { foo: 1 } } }, server: { port: 0 } });
    expect(r.errors).toEqual(["server.port: expected a port number 1-65535, got 0"]);
    expect(r.warnings).toEqual(["network.networks.bridge.foo: unknown key (ignored)"]);
  });

  test('an unknown key next to a "file" output without a path: both reported', () => {
    const r = joblet({ logging: { outputs: [{ type: "file", extra: 1 }] } });
    expect(r.errors).toEqual(['logging.outputs[0].path: an output of type "file" needs a path']);
    expect(r.warnings).toEqual(["logging.outputs[0].extra: unknown key (ignored)"]);
  });

  test("a prefix is put in front of every path", () => {
    const r = checkDocument(runtimeConfigSchema, { runtime: { junk: 1, allowed_mounts: ["rel"] } }, ["file.yml"]);
    expect(r.errors).toEqual(['file.yml.runtime.allowed_mounts[0]: expected an absolute path, got "rel"']);
    expect(r.warnings).toEqual(["file.yml.runtime.junk: unknown key (ignored)"]);
  });
});

describe("formatPath", () => {
  test("keys are dotted, indexes bracketed, empty is the top level", () => {
    expect(formatPath(["logging", "outputs", 0, "path"])).toBe("logging.outputs[0].path");
    expect(formatPath([0, "a"])).toBe("[0].a");
    expect(formatPath(["namespaces", 1])).toBe("namespaces[1]");
    expect(formatPath([])).toBe("(top level)");
  });
});

describe("runtime-config.yml", () => {
  test("relative mounts are errors with their index", () => {
    const r = checkDocument(runtimeConfigSchema, { runtime: { allowed_mounts: ["/usr/bin", "lib"], common_paths: ["/ok", "nope"] } });
    expect(r.errors.toSorted()).toEqual(
      ['runtime.allowed_mounts[1]: expected an absolute path, got "lib"', 'runtime.common_paths[1]: expected an absolute path, got "nope"'].toSorted(),
    );
  });
  test("unknown keys are warnings", () => {
    const r = checkDocument(runtimeConfigSchema, { runtime: { base_path: "/r", distro: "ubuntu" }, other: 1 });
    expect(r.errors).toEqual([]);
    expect(r.warnings.toSorted()).toEqual(["other: unknown key (ignored)", "runtime.distro: unknown key (ignored)"]);
    expect(r.value?.runtime.base_path).toBe("/r");
  });
  test("the joblet-config.yml may carry a runtime section too", () => {
    const r = joblet({ runtime: { base_path: "/srv/runtimes" } });
    expect(r.errors).toEqual([]);
    expect(r.value?.runtime?.base_path).toBe("/srv/runtimes");
    expect(joblet({ runtime: { base_path: "srv" } }).errors).toEqual(['runtime.base_path: expected an absolute path, got "srv"']);
  });
});

describe("rnx-config.yml", () => {
  const rnx = (doc: unknown) => checkDocument(rnxConfigSchema, doc);

  test("the multi-node seed has four nodes and production as default", () => {
    const v = rnx(yaml(join(SEED, "rnx-config.multi.yml"))).value!;
    expect(Object.keys(v.nodes)).toEqual(["production", "staging", "development", "viewer"]);
    expect(v.default_node).toBe("production");
    expect(v.global).toEqual({ timeout: 30_000, keepalive: 120_000 });
    expect(v.upload.compression).toBe(true);
  });

  test("the single-node seed's node settings are converted", () => {
    const n = rnx(yaml(join(SEED, "rnx-config.single.yml"))).value!.nodes.default!;
    expect(n.address).toBe("joblet-server:50051");
    expect(n.timeout).toBe(30_000);
    expect(n.keepalive).toBe(120_000);
    expect(n.retry).toEqual({ enabled: true, max_attempts: 3, backoff: 1000 });
    expect(n.cert).toContain("BEGIN CERTIFICATE");
  });

  test("nodes is required", () => {
    expect(rnx({ version: "3.0" }).errors).toEqual(["nodes: expected a mapping, got nothing"]);
    expect(rnx({}).value).toBeUndefined();
  });

  test("a node needs a host:port address", () => {
    expect(rnx({ nodes: { a: {} } }).errors).toEqual(['nodes.a.address: expected "host:port", e.g. "localhost:50051", got nothing']);
    expect(rnx({ nodes: { a: { address: "localhost" } } }).errors).toEqual(['nodes.a.address: expected "host:port", e.g. "localhost:50051", got "localhost"']);
    expect(rnx({ nodes: { a: { address: "[::1]:50051" } } }).errors).toEqual([]);
  });

  test("defaults", () => {
    const v = rnx({ nodes: { default: { address: "localhost:50051" } } }).value!;
    expect(v.default_node).toBe("default");
    expect(v.preferences).toEqual({ output_format: "table", color_output: true, confirm_destructive: true });
    expect(v.global).toEqual({ timeout: 30_000, keepalive: 120_000 });
  });

  test("unknown keys inside a node are warnings with the node's path", () => {
    const r = rnx({ nodes: { prod: { address: "h:1", token: "x" } } });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual(["nodes.prod.token: unknown key (ignored)"]);
  });

  test("bad preference values", () => {
    expect(rnx({ nodes: {}, preferences: { output_format: "yaml" } }).errors).toEqual([
      'preferences.output_format: expected one of "table", "json", got "yaml"',
    ]);
    expect(rnx({ nodes: { a: { address: "h:1", timeout: "soon" } } }).errors).toEqual([
      'nodes.a.timeout: expected a duration such as "500ms", "30s", "5m" or "1h30m", got "soon"',
    ]);
  });
});

describe("keys accepted but not acted on yet", () => {
  test("the full seed lists every pending section it uses", () => {
    const keys = pendingKeysIn(yaml(join(SEED, "joblet-config.full.yml"))).map((p) => p.key);
    for (const k of ["network", "volume", "state.socket", "state.storage", "monitoring"]) expect(keys).toContain(k);
    for (const k of ["joblet.maxConcurrentJobs", "joblet.jobTimeout", "joblet.defaultCpuLimit", "namespaces", "process", "filesystem.baseDir", "cgroup", "state", "state.backend", "state.local", "ipc"]) expect(keys).not.toContain(k); // acted on
    expect(keys).not.toContain("server.tls.cipher_suites"); // the full seed sets no cipher suites
  });

  test("nested keys are matched by their full path", () => {
    expect(pendingKeysIn({ server: { tls: { cipher_suites: ["TLS_AES_256_GCM_SHA384"] } } }).map((p) => p.key)).toEqual(["server.tls.cipher_suites"]);
    expect(pendingKeysIn({ server: { tls: { min_version: "1.3" } } })).toEqual([]);
  });

  test("a document with only implemented sections has nothing pending", () => {
    expect(pendingKeysIn({ version: "3.0", server: { port: 1 }, security: {}, logging: {} })).toEqual([]);
    expect(pendingKeysIn({})).toEqual([]);
    expect(pendingKeysIn(null)).toEqual([]);
  });

  test("each entry names a feature", () => {
    for (const p of pendingKeysIn({ network: {}, volume: {} })) expect(p.feature.length).toBeGreaterThan(0);
    expect(pendingKeysIn({ network: {}, volume: {} }).map((p) => p.key)).toEqual(["network", "volume"]);
  });
});
