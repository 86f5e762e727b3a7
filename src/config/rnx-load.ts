// Finding and reading the client configuration (rnx-config.yml) and choosing a node from it.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { checkDocument } from "./check";
import { ConfigError, DEFAULT_CONFIG_DIR } from "./load";
import { rnxConfigSchema, type RnxConfig, type RnxNode } from "./rnx-schema";
import { readYamlText } from "./yaml";

type Env = Record<string, string | undefined>;

export function rnxConfigCandidates(cwd = process.cwd(), home = homedir()): string[] {
  return [
    join(cwd, "rnx-config.yml"),
    join(cwd, "config", "rnx-config.yml"),
    join(home, ".rnx", "rnx-config.yml"),
    "/etc/joblet/rnx-config.yml",
    join(DEFAULT_CONFIG_DIR, "rnx-config.yml"),
  ];
}

export interface LoadedRnxConfig {
  config: RnxConfig;
  path: string;
  warnings: string[];
}

/** --config, then RNX_CONFIG, then the standard locations. */
export function loadRnxConfig(explicit?: string, env: Env = process.env): LoadedRnxConfig {
  const chosen = explicit ?? env.RNX_CONFIG;
  let path: string | undefined;
  if (chosen) {
    path = resolve(chosen.replace(/^~(?=\/)/, homedir()));
    if (!existsSync(path)) throw new ConfigError([`${path}: client configuration not found${explicit ? "" : " (from RNX_CONFIG)"}`]);
  } else {
    const candidates = rnxConfigCandidates();
    path = candidates.find((p) => existsSync(p));
    if (!path) {
      throw new ConfigError([
        `no rnx-config.yml found; looked in: ${candidates.join(", ")}. Pass --config=FILE, set RNX_CONFIG, or get one with \`joblet certs issue\` on the server.`,
      ]);
    }
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError([`${path}: cannot read: ${(e as Error).message}`]);
  }
  const { value: doc, problems } = readYamlText(text);
  if (problems.length) throw new ConfigError(problems.map((p) => `${path}: ${p}`));
  const r = checkDocument(rnxConfigSchema, doc);
  if (!r.value) throw new ConfigError(r.errors.map((e) => `${path}: ${e}`), r.warnings);
  return { config: r.value, path, warnings: r.warnings.map((w) => `${path}: ${w}`) };
}

/** The node named by --node, else default_node. */
export function selectNode(config: RnxConfig, name?: string): { name: string; node: RnxNode } {
  const chosen = name ?? config.default_node;
  const node = config.nodes[chosen];
  if (!node) {
    const known = Object.keys(config.nodes);
    throw new ConfigError([`node "${chosen}" is not in the client configuration (known: ${known.join(", ") || "none"})`]);
  }
  return { name: chosen, node };
}
