// rnx-config.yml: the client's nodes (address + embedded mTLS credentials) and preferences.
import { z } from "zod";
import { bool, duration, fileVersion, leaf, mapOf, oneOf, parseHostPort, pem, positiveInt, section, str } from "./values";

/** The name rnx expects in the server certificate, as Joblet's Go client does (ServerName "joblet"). */
export const DEFAULT_SERVER_NAME = "joblet";

export const nodeAddress = () =>
  leaf('"host:port", e.g. "localhost:50051"', (v) => (parseHostPort(v) ? (v as string) : undefined));

const node = section({
  address: nodeAddress(),
  nodeId: str("a node id").optional(),
  cert: pem("certificate").optional(),
  key: pem("private key").optional(),
  ca: pem("certificate").optional(),
  /** name the server certificate must carry; Joblet's clients use "joblet" */
  serverName: str("a DNS name").optional(),
  timeout: duration().optional(),
  keepalive: duration().optional(),
  retry: section({
    enabled: bool().default(true),
    max_attempts: positiveInt().default(3),
    backoff: duration().default(1000),
  }).optional(),
});

export const rnxConfigSchema = section({
  version: fileVersion().default("3.0"),
  default_node: str("a node name").default("default"),
  global: section({
    timeout: duration().default(30_000),
    keepalive: duration().default(120_000),
  }).prefault({}),
  nodes: mapOf(node),
  preferences: section({
    output_format: oneOf(["table", "json"] as const).default("table"),
    color_output: bool().default(true),
    confirm_destructive: bool().default(true),
  }).prefault({}),
  upload: section({
    chunk_size: positiveInt().default(1048576),
    compression: bool().default(false),
    show_progress: bool().default(true),
  }).prefault({}),
});

export type RnxConfig = z.output<typeof rnxConfigSchema>;
export type RnxNode = RnxConfig["nodes"][string];
