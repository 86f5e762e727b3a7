// joblet-config.yml: every key of the configuration guide (shared/seed/joblet-configuration-guide.txt),
// with this project's defaults. Defaults are secure: where the guide's example loosens something
// (e.g. default_role: viewer) the default here is the strict choice.
import { z } from "zod";
import { runtimeSection } from "./runtime-schema";
import {
  absolutePath,
  bool,
  cidr,
  duration,
  fileVersion,
  host,
  hostPort,
  int,
  leaf,
  list,
  mapOf,
  nonEmptyStr,
  nonNegativeInt,
  oneOf,
  parseDuration,
  pem,
  port,
  positiveInt,
  section,
  size,
  str,
} from "./values";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export const ROLE_NAMES = ["admin", "maintainer", "developer", "viewer", "reader", "none"] as const;
export const NAMESPACES = ["pid", "mount", "network", "ipc", "uts", "cgroup"] as const;
export const CONTROLLERS = ["memory", "cpu", "io", "pids", "cpuset"] as const;
export const EVENT_TYPES = ["exec", "connect", "accept", "mmap", "mprotect", "file", "socket_data"] as const;

/** Settings that may only be on: the runtime never serves without verified mutual TLS. */
const alwaysOn = (what: string) =>
  leaf(`true (${what} cannot be turned off)`, (v) => (v === true ? true : undefined));

const server = section({
  mode: oneOf(["server"] as const).default("server"),
  address: host().default("0.0.0.0"),
  port: port().default(50051),
  /** joblet extension: the HTTPS endpoint (server-sent events: logs, status, job events); 0 = off */
  http_port: int(0, 65535, "a port number 1-65535, or 0 for no HTTPS endpoint").default(50052),
  nodeId: str("a node id (a UUID)").default(""),
  tls: section({
    enabled: alwaysOn("TLS").default(true),
    min_version: oneOf(["1.2", "1.3"] as const).default("1.3"),
    cipher_suites: list(nonEmptyStr("a TLS cipher suite name")).default([]),
    /** joblet extension: a connection must finish its TLS handshake (and, on the gRPC port, send
     * the HTTP/2 preface) within this; slower ones are closed and audited */
    handshake_timeout: duration().default(30_000),
  }).prefault({}),
  max_message_size: int(1024, 2 ** 31 - 1, "a message size in bytes (1024 to 2147483647)").default(104857600),
  keepalive: section({
    time: duration().default(120_000),
    timeout: duration().default(20_000),
  }).prefault({}),
})
  .superRefine((s, ctx) => {
    if (s.http_port !== 0 && s.http_port === s.port) ctx.addIssue({ code: "custom", path: ["http_port"], message: `must differ from server.port (${s.port}), or be 0 for no HTTPS endpoint`, input: s.http_port });
  })
  .prefault({});

const joblet = section({
  defaultCpuLimit: nonNegativeInt().default(100),
  defaultMemoryLimit: nonNegativeInt().default(512),
  defaultIoLimit: nonNegativeInt().default(0),
  /** joblet extension: processes (and threads) per job; a request may only lower it (0 = none) */
  defaultPidsLimit: nonNegativeInt().default(512),
  maxConcurrentJobs: positiveInt().default(100),
  /** joblet extension: jobs that may wait for a slot; beyond it RunJob is RESOURCE_EXHAUSTED */
  maxQueuedJobs: positiveInt().default(1000),
  jobTimeout: duration().default(24 * 3_600_000),
  validateCommands: bool().default(true),
  allowedCommands: list(nonEmptyStr("a command name")).optional(),
  cleanupTimeout: duration().default(30_000),
  preserveFailedJobs: bool().default(false),
  /** joblet extension: output kept per job; the rest is discarded with a note in the log */
  maxLogSize: size().default(1024 ** 3),
  isolation: section({
    service_based_routing: bool().default(true),
    production: section({
      type: oneOf(["minimal_chroot"] as const).default("minimal_chroot"),
      runtime_isolation: bool().default(true),
    }).prefault({}),
    builder: section({
      type: oneOf(["builder_chroot"] as const).default("builder_chroot"),
      host_access: oneOf(["readonly", "none"] as const).default("readonly"),
      runtime_cleanup: bool().default(true),
      cleanup_on_completion: bool().default(true),
    }).prefault({}),
  }).prefault({}),
}).prefault({});

const networkDef = section({
  type: oneOf(["bridge", "host", "none", "isolated"] as const).optional(),
  cidr: cidr().optional(),
  bridge_name: leaf("an interface name of at most 15 characters", (v) =>
    typeof v === "string" && /^[A-Za-z0-9_.-]{1,15}$/.test(v) ? v : undefined,
  ).optional(),
  enable_nat: bool().optional(),
  enable_icc: bool().optional(),
});

const network = section({
  enabled: bool().default(true),
  state_dir: absolutePath().default("/opt/joblet/network"),
  default_network: nonEmptyStr("a network name").default("bridge"),
  allow_custom_networks: bool().default(true),
  max_custom_networks: nonNegativeInt().default(50),
  networks: mapOf(networkDef).default({}),
  dns: section({
    servers: list(host()).default([]),
    search: list(nonEmptyStr("a search domain")).default([]),
    options: list(nonEmptyStr("a resolver option such as ndots:1")).default([]),
  }).prefault({}),
  traffic_control: section({
    enabled: bool().default(true),
    default_ingress: nonNegativeInt().default(0),
    default_egress: nonNegativeInt().default(0),
  }).prefault({}),
}).prefault({});

const volume = section({
  enabled: bool().default(true),
  state_dir: absolutePath().default("/opt/joblet/state"),
  base_path: absolutePath().default("/opt/joblet/volumes"),
  max_volumes: nonNegativeInt().default(100),
  max_size: size().default(100 * 1024 ** 3),
  default_size: size().default(1024 ** 3),
  filesystem: section({
    enabled: bool().default(true),
    default_fs: oneOf(["ext4"] as const).default("ext4"),
    mount_options: str("comma-separated mount options").default("noatime,nodiratime"),
  }).prefault({}),
  memory: section({
    enabled: bool().default(true),
    max_memory_volumes: nonNegativeInt().default(10),
    max_memory_usage: size().default(10 * 1024 ** 3),
  }).prefault({}),
  auto_cleanup: bool().default(false),
  cleanup_interval: duration().default(24 * 3_600_000),
}).prefault({});

const audit = section({
  enabled: bool().default(true),
  log_file: absolutePath().default("/var/log/joblet/audit.log"),
  log_successful_auth: bool().default(true),
  log_failed_auth: bool().default(true),
  log_job_operations: bool().default(true),
  log_admin_operations: bool().default(true),
  /** also record read-only calls, not only mutating ones */
  log_all_operations: bool().default(false),
}).prefault({});

const security = section({
  serverCert: pem("certificate").optional(),
  serverKey: pem("private key").optional(),
  caCert: pem("certificate").optional(),
  require_client_cert: alwaysOn("client certificates").default(true),
  verify_client_cert: alwaysOn("client certificate verification").default(true),
  enable_rbac: bool().default(true),
  default_role: oneOf(ROLE_NAMES).default("none"),
  audit,
}).prefault({});

const buffers = section({
  pubsub_buffer_size: positiveInt().default(10000),
  chunk_size: int(1024, 64 * 1024 ** 2, "a chunk size in bytes (1024 to 67108864)").default(1048576),
}).prefault({});

const ipc = section({
  enabled: bool().default(true),
  socket: absolutePath().default("/opt/joblet/run/persist-ipc.sock"),
  buffer_size: positiveInt().default(10000),
  reconnect_delay: duration().default(5000),
  max_reconnects: nonNegativeInt().default(0),
}).prefault({});

const directory = section({ directory: absolutePath().optional() });

const persist = section({
  /** joblet extension: how long finished jobs (record, log, metrics) are kept; "0" = no limit */
  retention: section({
    max_age: duration().default(30 * 24 * 3_600_000),
    /** total bytes of finished jobs' logs and metrics; the oldest jobs go first */
    max_size: size().default(10 * 1024 ** 3),
    interval: leaf('a duration of at least "1s"', (v) => {
      const ms = parseDuration(v);
      return ms !== undefined && ms >= 1000 ? ms : undefined;
    }).default(600_000),
  }).prefault({}),
  server: section({
    grpc_socket: absolutePath().default("/opt/joblet/run/persist-grpc.sock"),
    max_connections: positiveInt().default(500),
  }).prefault({}),
  ipc: section({
    socket: absolutePath().optional(),
    max_message_size: positiveInt().default(134217728),
  }).prefault({}),
  storage: section({
    type: oneOf(["local", "cloudwatch", "s3"] as const).default("local"),
    local: section({
      logs: directory.prefault({ directory: "/opt/joblet/logs" }),
      metrics: directory.prefault({ directory: "/opt/joblet/metrics" }),
      events: directory.prefault({ directory: "/opt/joblet/events" }),
    }).prefault({}),
    cloudwatch: section({
      region: str("an AWS region").optional(),
      log_group_prefix: str("a log group prefix").optional(),
    }).prefault({}),
    s3: section({
      region: str("an AWS region").optional(),
      bucket: str("a bucket name").optional(),
      key_prefix: str("a key prefix").default("jobs/"),
      flush_interval: positiveInt().default(30),
      flush_threshold: positiveInt().default(5242880),
      max_buffer_size: positiveInt().default(52428800),
      storage_class: str("an S3 storage class").default("STANDARD"),
      sse: oneOf(["", "AES256", "aws:kms"] as const).default("AES256"),
      kms_key_id: str("a KMS key id").default(""),
    }).prefault({}),
  }).prefault({}),
}).prefault({});

const telemetry = section({
  metrics_interval: leaf('a duration of at least "1s"', (v) => {
    const ms = parseDuration(v);
    return ms !== undefined && ms >= 1000 ? ms : undefined;
  }).default(5000),
  ebpf_enabled: bool().default(true),
  event_types: list(oneOf(EVENT_TYPES)).default([]),
}).prefault({});

const state = section({
  backend: oneOf(["local", "memory", "dynamodb"] as const).default("local"),
  socket: absolutePath().default("/opt/joblet/run/state-ipc.sock"),
  buffer_size: positiveInt().default(10000),
  reconnect_delay: duration().default(5000),
  pool: section({
    size: positiveInt().default(20),
    read_timeout: duration().default(10_000),
    dial_timeout: duration().default(5000),
    max_idle_time: duration().default(30_000),
    health_check_timeout: duration().default(500),
    shutdown_timeout: duration().default(5000),
  }).prefault({}),
  client: section({
    max_retries: nonNegativeInt().default(3),
    retry_base_delay: duration().default(100),
    retry_max_delay: duration().default(2000),
    connect_timeout: duration().default(5000),
  }).prefault({}),
  local: section({
    directory: absolutePath().default("/opt/joblet/state"),
    sync_interval: duration().default(5000),
  }).prefault({}),
  storage: section({
    dynamodb: section({
      region: str("an AWS region").default(""),
      table_name: nonEmptyStr("a table name").default("joblet-jobs"),
      ttl_enabled: bool().default(true),
      ttl_attribute: nonEmptyStr("an attribute name").default("expiresAt"),
      ttl_days: positiveInt().default(30),
      read_capacity: nonNegativeInt().default(5),
      write_capacity: nonNegativeInt().default(5),
      batch_size: int(1, 25, "a batch size 1-25").default(25),
      batch_interval: duration().default(100),
    }).prefault({}),
  }).prefault({}),
}).prefault({});

const logOutput = section({
  type: oneOf(["stdout", "stderr", "file"] as const),
  path: absolutePath().optional(),
  format: oneOf(["json", "text"] as const).optional(),
  level: oneOf(LOG_LEVELS).optional(),
  rotate: bool().default(true),
  max_size: size().default(100 * 1024 ** 2),
  max_backups: nonNegativeInt().default(10),
  /** days */
  max_age: nonNegativeInt().default(30),
}).check((ctx) => {
  if (ctx.value.type === "file" && !ctx.value.path) {
    ctx.issues.push({ code: "custom", message: 'an output of type "file" needs a path', input: ctx.value, path: ["path"] });
  }
});

const logging = section({
  level: oneOf(LOG_LEVELS).default("info"),
  format: oneOf(["json", "text"] as const).default("text"),
  outputs: list(logOutput).default([{ type: "stdout", rotate: false, max_size: 0, max_backups: 0, max_age: 0 }]),
  components: mapOf(oneOf(LOG_LEVELS)).default({}),
}).prefault({});

const cgroup = section({
  baseDir: absolutePath().default("/sys/fs/cgroup/joblet.slice"),
  version: oneOf(["auto", "v1", "v2"] as const).default("auto"),
  enableControllers: list(oneOf(CONTROLLERS)).default([...CONTROLLERS]),
  accounting: section({
    enabled: bool().default(true),
    interval: duration().default(10_000),
  }).prefault({}),
}).prefault({});

const filesystem = section({
  baseDir: absolutePath().default("/opt/joblet/jobs"),
  tmpDir: absolutePath().default("/opt/joblet/tmp"),
  workspace: section({
    default_quota: size().default(1024 ** 2),
    cleanup_on_exit: bool().default(true),
    preserve_on_failure: bool().default(false),
    /** joblet extension: total size of the files one RunJob may upload */
    max_upload_size: size().default(64 * 1024 ** 2),
  }).prefault({}),
  enable_chroot: alwaysOn("filesystem isolation").default(true),
  readonly_rootfs: bool().default(true),
}).prefault({});

const processSection = section({
  default_user: nonEmptyStr("a user name or uid").default("nobody"),
  default_group: nonEmptyStr("a group name or gid").default("nogroup"),
  allow_setuid: leaf("false (jobs never gain privileges through setuid programs)", (v) => (v === false ? false : undefined)).default(false),
}).prefault({});

const monitoring = section({
  enabled: bool().default(true),
  bind_address: hostPort().default("127.0.0.1:9090"),
  collection: section({
    system_interval: duration().default(15_000),
    process_interval: duration().default(30_000),
  }).prefault({}),
  metrics: list(oneOf(["cpu", "memory", "disk", "network", "processes", "io"] as const)).default([
    "cpu",
    "memory",
    "disk",
    "network",
    "processes",
  ]),
}).prefault({});

export const jobletConfigSchema = section({
  version: fileVersion().default("3.0"),
  server,
  joblet,
  network,
  volume,
  runtime: runtimeSection.optional(),
  security,
  buffers,
  ipc,
  persist,
  telemetry,
  state,
  logging,
  cgroup,
  filesystem,
  process: processSection,
  namespaces: list(oneOf(NAMESPACES))
    .default([...NAMESPACES])
    .check((ctx) => {
      for (const required of ["pid", "mount"] as const) {
        if (!ctx.value.includes(required)) ctx.issues.push({ code: "custom", message: `must include "${required}" (jobs always get their own ${required} namespace)`, input: ctx.value });
      }
    }),
  monitoring,
});

export type JobletConfig = z.output<typeof jobletConfigSchema>;
