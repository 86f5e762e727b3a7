// Keys the schema accepts but this version does not act on yet, and the capability that will.
// `joblet --validate` lists every one present in a file, so nothing is silently ignored.
// Remove an entry in the change that makes the key take effect.

export interface PendingKey {
  /** dotted key path; the entry covers the key and everything under it */
  key: string;
  feature: string;
  /** only when the key has this value (e.g. a backend not built yet) */
  value?: string;
}

export const NOT_IMPLEMENTED: readonly PendingKey[] = [
  { key: "server.tls.cipher_suites", feature: "TLS 1.3 cipher suite selection (BoringSSL in Bun fixes the TLS 1.3 suites)" },
  { key: "joblet.preserveFailedJobs", feature: "job retention" },
  { key: "joblet.isolation", feature: "runtime builds" },
  { key: "network", feature: "networking" },
  { key: "volume", feature: "volumes" },
  { key: "runtime.base_path", feature: "runtimes" },
  { key: "runtime.common_paths", feature: "runtimes" },
  { key: "buffers.pubsub_buffer_size", feature: "nothing: logs fan out from the log file, without a pub/sub buffer" },
  { key: "ipc.socket", feature: "nothing: there is no separate persist process; the daemon stores logs itself (ipc.enabled is honoured)" },
  { key: "ipc.buffer_size", feature: "nothing: logs are buffered in their files, not in memory" },
  { key: "ipc.reconnect_delay", feature: "nothing: there is no separate persist process" },
  { key: "ipc.max_reconnects", feature: "nothing: there is no separate persist process" },
  { key: "persist.server", feature: "nothing: there is no separate persist process" },
  { key: "persist.ipc", feature: "nothing: there is no separate persist process" },
  { key: "persist.storage.type", feature: "remote log storage (CloudWatch, S3)" },
  { key: "persist.storage.local.events", feature: "eBPF telematics" },
  { key: "persist.storage.cloudwatch", feature: "remote log storage (CloudWatch, S3)" },
  { key: "persist.storage.s3", feature: "remote log storage (CloudWatch, S3)" },
  { key: "telemetry.ebpf_enabled", feature: "eBPF telematics" },
  { key: "telemetry.event_types", feature: "eBPF telematics" },
  { key: "state.socket", feature: "nothing: the state store is embedded in the daemon" },
  { key: "state.buffer_size", feature: "nothing: the state store is embedded in the daemon" },
  { key: "state.reconnect_delay", feature: "nothing: the state store is embedded in the daemon" },
  { key: "state.pool", feature: "nothing: the state store is embedded in the daemon" },
  { key: "state.client", feature: "nothing: the state store is embedded in the daemon" },
  { key: "state.local.sync_interval", feature: "nothing: every state change is committed before the request that made it returns" },
  { key: "state.backend", value: "dynamodb", feature: "the DynamoDB state backend (the daemon refuses to start with it)" },
  { key: "state.storage", feature: "the DynamoDB state backend" },
  { key: "cgroup.accounting.interval", feature: "nothing: telemetry.metrics_interval sets how often jobs are sampled" },
  { key: "filesystem.workspace.default_quota", feature: "workspace size quota" },
  { key: "monitoring", feature: "monitoring and Prometheus metrics" },
];

/** Environment overrides that are accepted but not acted on yet. */
export const NOT_IMPLEMENTED_ENV: readonly PendingKey[] = [
  { key: "JOBLET_CI_MODE", feature: "job sandbox" },
];

function has(doc: unknown, path: string[], value?: string): boolean {
  let node = doc;
  for (const p of path) {
    if (!node || typeof node !== "object" || !(p in node)) return false;
    node = (node as Record<string, unknown>)[p];
  }
  return value === undefined || node === value;
}

/** The pending entries whose keys appear in a parsed document (joblet-config.yml or runtime-config.yml). */
export function pendingKeysIn(doc: unknown): PendingKey[] {
  return NOT_IMPLEMENTED.filter((p) => has(doc, p.key.split("."), p.value));
}
