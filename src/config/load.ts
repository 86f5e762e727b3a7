// Finding, reading and resolving the server configuration: joblet-config.yml, runtime-config.yml
// and the JOBLET_* environment overrides, in the order the configuration guide gives.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { checkDocument } from "./check";
import { readYamlText } from "./yaml";
import { ConfigError } from "./errors";

export { ConfigError };
import { jobletConfigSchema, LOG_LEVELS, type JobletConfig } from "./joblet-schema";
import { NOT_IMPLEMENTED_ENV, pendingKeysIn, type PendingKey } from "./not-implemented";
import { runtimeConfigSchema, runtimeSection, type RuntimeConfig } from "./runtime-schema";
import { host, oneOf, port, positiveInt, show } from "./values";

export const DEFAULT_CONFIG_DIR = "/opt/joblet/config";

export type ServerConfig = Omit<JobletConfig, "runtime"> & {
  runtime: RuntimeConfig;
  /** JOBLET_CI_MODE */
  ciMode: boolean;
};

export interface LoadedConfig {
  config: ServerConfig;
  path: string;
  runtimePath?: string;
  warnings: string[];
  pending: PendingKey[];
}

type Env = Record<string, string | undefined>;

export function jobletConfigCandidates(cwd = process.cwd()): string[] {
  return [
    join(DEFAULT_CONFIG_DIR, "joblet-config.yml"),
    join(cwd, "config", "joblet-config.yml"),
    join(cwd, "joblet-config.yml"),
    "/etc/joblet/joblet-config.yml",
  ];
}

/** --config, then JOBLET_CONFIG_PATH, then the standard locations. An explicit path must exist. */
export function findJobletConfig(explicit: string | undefined, env: Env = process.env): string {
  const chosen = explicit ?? env.JOBLET_CONFIG_PATH;
  if (chosen) {
    const path = resolve(chosen);
    if (!existsSync(path)) {
      throw new ConfigError([`${path}: configuration file not found${explicit ? "" : " (from JOBLET_CONFIG_PATH)"}`]);
    }
    return path;
  }
  const candidates = jobletConfigCandidates();
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new ConfigError([
      `no joblet-config.yml found; looked in: ${candidates.join(", ")}. Pass --config=FILE, set JOBLET_CONFIG_PATH, or run \`joblet certs init\`.`,
    ]);
  }
  return found;
}

function readYaml(path: string): { doc?: unknown; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return { problems: [`${path}: cannot read: ${(e as Error).message}`] };
  }
  const r = readYamlText(text);
  return r.problems.length ? { problems: r.problems.map((p) => `${path}: ${p}`) } : { doc: r.value, problems: [] };
}

function findRuntimeConfig(mainPath: string, env: Env): string | undefined {
  if (env.JOBLET_RUNTIME_CONFIG_PATH) return resolve(env.JOBLET_RUNTIME_CONFIG_PATH);
  return [join(dirname(mainPath), "runtime-config.yml"), join(DEFAULT_CONFIG_DIR, "runtime-config.yml")].find((p) =>
    existsSync(p),
  );
}

/** Applies the JOBLET_* overrides, validating each value like the key it replaces. */
function applyEnv(config: ServerConfig, env: Env, problems: string[]): void {
  const take = <T>(name: string, schema: { safeParse(v: unknown): { success: boolean; data?: T; error?: { issues: { message: string }[] } } }, raw: unknown, set: (v: T) => void) => {
    const r = schema.safeParse(raw);
    if (r.success) set(r.data as T);
    else problems.push(`${name}: ${r.error?.issues[0]?.message ?? `invalid value ${show(raw)}`}`);
  };
  const asInt = (s: string) => (/^\d+$/.test(s.trim()) ? Number(s) : s);
  if (env.JOBLET_LOG_LEVEL) take("JOBLET_LOG_LEVEL", oneOf(LOG_LEVELS), env.JOBLET_LOG_LEVEL, (v) => (config.logging.level = v));
  if (env.JOBLET_SERVER_ADDRESS) take("JOBLET_SERVER_ADDRESS", host(), env.JOBLET_SERVER_ADDRESS, (v) => (config.server.address = v));
  if (env.JOBLET_SERVER_PORT) take("JOBLET_SERVER_PORT", port(), asInt(env.JOBLET_SERVER_PORT), (v) => (config.server.port = v));
  if (env.JOBLET_NODE_ID) config.server.nodeId = env.JOBLET_NODE_ID;
  if (env.JOBLET_MAX_JOBS) take("JOBLET_MAX_JOBS", positiveInt(), asInt(env.JOBLET_MAX_JOBS), (v) => (config.joblet.maxConcurrentJobs = v));
  if (env.JOBLET_CI_MODE) {
    const v = env.JOBLET_CI_MODE.toLowerCase();
    if (["1", "true", "yes"].includes(v)) config.ciMode = true;
    else if (!["0", "false", "no", ""].includes(v)) problems.push(`JOBLET_CI_MODE: expected true or false, got ${show(env.JOBLET_CI_MODE)}`);
  }
}

/**
 * Reads and validates the whole server configuration. Throws ConfigError listing every problem;
 * on success returns the resolved config plus warnings (unknown keys) and keys not acted on yet.
 */
export function loadServerConfig(opts: { path?: string; env?: Env } = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const path = findJobletConfig(opts.path, env);
  const problems: string[] = [];
  const warnings: string[] = [];
  const pending: PendingKey[] = [];

  const main = readYaml(path);
  problems.push(...main.problems);
  const checked = main.doc === undefined ? undefined : checkDocument(jobletConfigSchema, main.doc);
  if (checked) {
    problems.push(...checked.errors);
    warnings.push(...checked.warnings);
    pending.push(...pendingKeysIn(main.doc));
  }

  const runtimePath = findRuntimeConfig(path, env);
  let runtime: RuntimeConfig | undefined = checked?.value?.runtime;
  if (runtimePath) {
    const rt = existsSync(runtimePath) ? readYaml(runtimePath) : { doc: undefined, problems: [`${runtimePath}: runtime configuration file not found (from JOBLET_RUNTIME_CONFIG_PATH)`] };
    problems.push(...rt.problems);
    if (rt.doc !== undefined) {
      const r = checkDocument(runtimeConfigSchema, rt.doc);
      problems.push(...r.errors.map((e) => `${runtimePath}: ${e}`));
      warnings.push(...r.warnings.map((w) => `${runtimePath}: ${w}`));
      for (const p of pendingKeysIn(rt.doc)) if (!pending.includes(p)) pending.push(p);
      runtime = r.value?.runtime;
    }
  }

  for (const p of NOT_IMPLEMENTED_ENV) if (env[p.key]) pending.push(p);

  // Environment overrides are checked even when the files have errors, so every problem shows at once.
  const base = checked?.value ?? jobletConfigSchema.parse({});
  const config: ServerConfig = { ...base, runtime: runtime ?? runtimeSection.parse(undefined), ciMode: false };
  applyEnv(config, env, problems);
  if (problems.length || !checked?.value) throw new ConfigError(problems, warnings);
  return { config, path, runtimePath, warnings, pending };
}
