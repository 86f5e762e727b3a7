// RunJob requests checked at the boundary: every refusal names the field and the accepted form.
import { basename } from "node:path";
import { NOT_PRINTABLE, parseDuration, quote as shown } from "../../config/values";
import type { RunJobRequest } from "../../gen/joblet";
import { CronError, parseCron, type CronSchedule } from "../../config/cron";
import { parseRfc3339 } from "../../config/schedule";
import { invalid, unimplemented } from "../errors";
import { checkUploads, type CheckedUpload } from "./uploads";

export interface RunPolicy {
  validateCommands: boolean;
  allowedCommands?: string[];
  /** joblet.jobTimeout in ms (0 = none) */
  jobTimeoutMs: number;
  maxUploadBytes: number;
}

export interface CheckedRun {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  secrets: Record<string, string>;
  workDir: string;
  uploads: CheckedUpload[];
  timeoutMs: number;
  /** a one-shot schedule: when to start (ms since the epoch) */
  scheduledAt?: number;
  /** a recurring schedule */
  cron?: CronSchedule;
  allowOverlap: boolean;
}

/** A scheduled time may be this far in the past (clock skew, a slow client): it runs at once. */
const SCHEDULE_PAST_GRACE_MS = 60_000;
const SCHEDULE_MAX_AHEAD_MS = 366 * 24 * 3_600_000;

/** RunJobRequest.schedule: RFC 3339 only (rnx converts "30s", "5min", "2026-11-28 15:04" to it). */
function checkSchedule(raw: string, now: number): number {
  const at = parseRfc3339(raw)?.getTime();
  if (at === undefined) throw invalid(`schedule: ${shown(raw)} is not an RFC 3339 time such as "2026-11-28T15:04:05Z" (rnx converts "30s", "5min" or "2026-11-28 15:04" to one)`);
  if (at < now - SCHEDULE_PAST_GRACE_MS) throw invalid(`schedule: ${raw} is ${Math.round((now - at) / 1000)}s in the past; give a time in the future`);
  if (at > now + SCHEDULE_MAX_AHEAD_MS) throw invalid(`schedule: ${raw} is more than a year ahead`);
  return at;
}

function checkCron(raw: string, now: number): CronSchedule {
  if (raw.length > MAX_CRON) throw invalid(`cron: ${shown(raw, 60)} is longer than ${MAX_CRON} characters`);
  let cron: CronSchedule;
  try {
    cron = parseCron(raw);
  } catch (e) {
    if (e instanceof CronError) throw invalid(e.message);
    throw e;
  }
  if (!cron.next(new Date(now))) throw invalid(`cron: ${shown(raw)} never matches a date in the next five years`);
  return cron;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_ARGV_BYTES = 1024 * 1024; // well inside the kernel's exec limit (ARG_MAX)
/** The kernel's limit on one argument or environment string (MAX_ARG_STRLEN, 32 pages, with its NUL). */
const MAX_ARG_BYTES = 32 * 4096 - 1;
const MAX_ENV_VALUE = 32 * 1024;
const MAX_CRON = 1024;
/** cpu_cores: no host has more CPUs; a list naming more (ranges counted in full) is refused before it is expanded. */
const MAX_CPU_LIST = 8192;

function noNul(field: string, v: string): void {
  if (v.includes("\0")) throw invalid(`${field}: contains a NUL byte`);
}

function checkEnv(field: string, env: Record<string, string>): Record<string, string> {
  for (const [k, v] of Object.entries(env)) {
    if (!ENV_NAME.test(k)) throw invalid(`${field}: variable name ${shown(k, 60)} must match [A-Za-z_][A-Za-z0-9_]*`);
    const name = k.length > 60 ? `${k.slice(0, 60)}…` : k;
    noNul(`${field}.${name}`, v);
    if (Buffer.byteLength(v) > MAX_ENV_VALUE) throw invalid(`${field}.${name}: value longer than 32 KiB`);
    if (Buffer.byteLength(k) + Buffer.byteLength(v) + 1 > MAX_ARG_BYTES) throw invalid(`${field}.${name}: name and value longer than ${MAX_ARG_BYTES} bytes (the kernel's limit on one environment string)`);
  }
  return env;
}

/** A working directory inside the job: absolute, normalized, and not in the kernel's trees. */
export function checkWorkDir(raw: string): string {
  if (raw === "") return "/work";
  noNul("work_dir", raw);
  if (Buffer.byteLength(raw) > 4096) throw invalid(`work_dir: ${shown(raw, 60)} is longer than 4096 bytes`);
  if (!raw.startsWith("/")) throw invalid(`work_dir: ${shown(raw)} must be an absolute path inside the job, e.g. /work/src`);
  const parts = raw.split("/").filter((p) => p && p !== ".");
  if (parts.includes("..")) throw invalid(`work_dir: ${shown(raw)} must not contain ".."`);
  const path = `/${parts.join("/")}`;
  if (["proc", "dev", "sys"].includes(parts[0] ?? "")) throw invalid(`work_dir: ${shown(raw)} is inside /${parts[0]}; use a directory of the job's filesystem`);
  return path;
}

function checkCommand(command: string, policy: RunPolicy): void {
  if (!command.trim()) throw invalid("command: is empty");
  noNul("command", command);
  if (Buffer.byteLength(command) > 4096) throw invalid("command: longer than 4096 bytes");
  if (!policy.validateCommands) return;
  if (/[\s;&|`$<>(){}*?!]/.test(command)) {
    throw invalid(`command: ${shown(command)} is not a program name or path (no shell syntax; to use a shell, run "sh" with "-c" and the script as arguments)`);
  }
  const allowed = policy.allowedCommands;
  if (allowed && allowed.length && !allowed.includes(command) && !allowed.includes(basename(command))) {
    throw invalid(`command: ${shown(command)} is not allowed on this server (joblet.allowedCommands: ${allowed.join(", ")})`);
  }
}

/**
 * cpu_cores before it is expanded (the cgroup layer turns it into a list of CPUs): a megabyte of
 * "0-4096," would be half a billion insertions on the daemon's event loop. The form itself is
 * checked, with the host's CPUs, where the limits are resolved.
 */
function checkCpuList(raw: string): void {
  if (!raw) return;
  let named = 0;
  for (const part of raw.split(",", MAX_CPU_LIST + 1)) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!m) return; // not a list: reported with the accepted form later
    named += m[2] === undefined ? 1 : Math.max(0, Number(m[2]) - Number(m[1]) + 1);
    if (named > MAX_CPU_LIST) throw invalid(`cpu_cores: ${shown(raw, 60)} names more than ${MAX_CPU_LIST} CPUs (ranges counted in full, repeats included)`);
  }
}

export function checkRunRequest(req: RunJobRequest, policy: RunPolicy, now = Date.now()): CheckedRun {
  // Capabilities that have not landed are refused, never silently ignored.
  if (req.network && req.network !== "none") throw unimplemented(`networking (network ${shown(req.network)}; only "none" is available)`);
  if (req.volumes.length) throw unimplemented("volumes");
  if (req.runtime) throw unimplemented("runtimes");
  if (req.gpuCount > 0 || req.gpuMemoryMb > 0) throw unimplemented("GPU allocation");

  checkCommand(req.command, policy);
  if (req.args.length > 100_000) throw invalid("args: more than 100000 arguments");
  req.args.forEach((a, i) => {
    noNul(`args[${i}]`, a);
    if (a.length > MAX_ARG_BYTES / 3 && Buffer.byteLength(a) > MAX_ARG_BYTES) throw invalid(`args[${i}]: ${Buffer.byteLength(a)} bytes; one argument may have at most ${MAX_ARG_BYTES} (the kernel's limit, MAX_ARG_STRLEN)`);
  });
  checkCpuList(req.cpuCores);
  const env = checkEnv("environment", req.environment);
  const secrets = checkEnv("secret_environment", req.secretEnvironment);
  const argvBytes = [req.command, ...req.args, ...Object.entries({ ...env, ...secrets }).map(([k, v]) => `${k}=${v}`)].reduce((n, s) => n + Buffer.byteLength(s) + 1, 0);
  if (argvBytes > MAX_ARGV_BYTES) throw invalid(`args and environment: ${argvBytes} bytes; at most ${MAX_ARGV_BYTES} fit a command line`);


  const name = req.name ?? "";
  if (name.length > 128 || NOT_PRINTABLE.test(name)) throw invalid(`name: ${shown(name, 60)} is not a name of at most 128 printable characters (no control or bidirectional-override characters)`);

  let timeoutMs = policy.jobTimeoutMs;
  if (req.timeout) {
    const t = parseDuration(req.timeout);
    if (t === undefined || t <= 0) throw invalid(`timeout: ${shown(req.timeout)} must be a duration such as "30s", "5m" or "2h"`);
    if (policy.jobTimeoutMs && t > policy.jobTimeoutMs) throw invalid(`timeout: ${req.timeout} is longer than the server's limit (joblet.jobTimeout = ${policy.jobTimeoutMs / 1000}s)`);
    timeoutMs = t;
  }

  if (req.schedule && req.cron) throw invalid("schedule, cron: give one of them (schedule: one run at a time; cron: a run each time it matches)");
  if (req.allowOverlap && !req.cron) throw invalid("allow_overlap: applies only to a recurring job (cron)");

  return {
    scheduledAt: req.schedule ? checkSchedule(req.schedule, now) : undefined,
    cron: req.cron ? checkCron(req.cron, now) : undefined,
    allowOverlap: req.allowOverlap,
    name,
    command: req.command,
    args: req.args,
    env,
    secrets,
    workDir: checkWorkDir(req.workDir),
    uploads: checkUploads(req.uploads, { maxTotalBytes: policy.maxUploadBytes, maxFiles: 100_000 }),
    timeoutMs,
  };
}
