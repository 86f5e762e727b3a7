// rnx job …: submit, inspect, follow and stop jobs (JobService).
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import type { FileUpload, JobMetricsEvent, RunJobRequest } from "../gen/joblet";
import { listOption, UsageError, type Options } from "./cli";
import { withConnection, type Connection, type GlobalOptions } from "./connection";
import { snakeKeys, toJsonValue } from "../api/json";
import { formatBytes, printFields, printJson, printTable } from "./output";
import { parseScheduleSpec, ScheduleError } from "../config/schedule";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_ENV_VALUE = 32 * 1024;

export function parseEnv(flag: string, values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    const name = eq < 0 ? v : v.slice(0, eq);
    if (eq < 0 || !ENV_NAME.test(name)) throw new UsageError(`${flag}: expected NAME=VALUE with NAME matching [A-Za-z_][A-Za-z0-9_]*, got "${v}"`);
    const value = v.slice(eq + 1);
    if (Buffer.byteLength(value) > MAX_ENV_VALUE) throw new UsageError(`${flag}: the value of ${name} is longer than 32 KiB`);
    out[name] = value;
  }
  return out;
}

function intFlag(flag: string, v: unknown, form: string): number {
  if (v === undefined) return 0;
  const s = String(v);
  if (!/^\d+$/.test(s) || Number(s) > 2 ** 31 - 1) throw new UsageError(`${flag}: expected ${form}, got "${s}"`);
  return Number(s);
}

export function uploadFile(path: string, as: string): FileUpload {
  const st = lstatSync(path);
  if (!st.isFile()) throw new UsageError(`--upload: ${path} is not a regular file`);
  return { path: as, content: readFileSync(path), mode: st.mode & 0o7777, isDirectory: false };
}

/** A directory tree as uploads relative to its root (directories included, so empty ones survive). */
function uploadDir(root: string): FileUpload[] {
  const out: FileUpload[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const rel = relative(root, full);
      const st = lstatSync(full);
      if (st.isDirectory()) {
        out.push({ path: rel, content: Buffer.alloc(0), mode: st.mode & 0o7777, isDirectory: true });
        walk(full);
      } else if (st.isFile()) out.push(uploadFile(full, rel));
      else throw new UsageError(`--upload-dir: ${full} is not a regular file or directory (symlinks and devices are not uploaded)`);
    }
  };
  if (!lstatSync(root).isDirectory()) throw new UsageError(`--upload-dir: ${root} is not a directory`);
  walk(root);
  return out;
}

/** --schedule as Joblet's client sends it: an RFC 3339 time ("30s", "5min", "2026-11-28 15:04" converted). */
function scheduleFlag(v: unknown): string {
  if (v === undefined) return "";
  try {
    return parseScheduleSpec(String(v));
  } catch (e) {
    if (e instanceof ScheduleError) throw new UsageError(e.message);
    throw e;
  }
}

export function buildRunRequest(args: string[], o: Options): RunJobRequest {
  const [command, ...rest] = args;
  if (!command) throw new UsageError("job run: a command is required");
  const text = (v: unknown) => (v === undefined ? "" : String(v));
  if (o.schedule !== undefined && o.cron !== undefined) throw new UsageError("--schedule and --cron: give one of them");
  if (o.allowOverlap && o.cron === undefined) throw new UsageError("--allow-overlap: applies only with --cron");
  if (o.follow && o.cron !== undefined) throw new UsageError("--follow: a recurring job (--cron) launches a new job each time; follow one of them with rnx job log");
  return {
    command,
    args: rest,
    maxCpu: intFlag("--max-cpu", o.maxCpu, "a CPU percentage (100 = one core)"),
    cpuCores: text(o.cpuCores),
    maxMemory: intFlag("--max-memory", o.maxMemory, "a memory limit in MB"),
    maxIoBps: intFlag("--max-iobps", o.maxIobps, "an IO limit in bytes per second"),
    maxPids: intFlag("--max-pids", o.maxPids, "a number of processes"),
    uploads: [...listOption(o.upload).map((f) => uploadFile(f, basename(f))), ...listOption(o.uploadDir).flatMap(uploadDir)],
    schedule: scheduleFlag(o.schedule),
    cron: text(o.cron),
    allowOverlap: Boolean(o.allowOverlap),
    network: text(o.network),
    volumes: listOption(o.volume),
    runtime: text(o.runtime),
    workDir: text(o.workdir),
    environment: parseEnv("--env", listOption(o.env)),
    secretEnvironment: parseEnv("--secret-env", listOption(o.secretEnv)),
    gpuCount: intFlag("--gpu", o.gpu, "a number of GPUs"),
    gpuMemoryMb: intFlag("--gpu-memory", o.gpuMemory, "GPU memory in MB"),
    name: text(o.name),
    timeout: text(o.timeout),
  };
}

function elapsed(start: string, end: string): string {
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start);
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  return s < 60 ? `${s.toFixed(1)}s` : s < 3600 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/** Streams the job's output to stdout until it ends. */
async function follow(c: Connection, uuid: string, json: boolean | undefined): Promise<void> {
  for await (const chunk of c.stream(c.jobs, "getJobLogs", { uuid })) {
    if (json) process.stdout.write(`${JSON.stringify({ timestamp: new Date().toISOString(), data: Buffer.from(chunk.payload).toString() })}\n`);
    else process.stdout.write(chunk.payload);
  }
}

/** Waits while a job is SCHEDULED or PENDING (its log starts when it runs). */
async function untilStarted(c: Connection, uuid: string): Promise<void> {
  for (;;) {
    const s = await c.call(c.jobs, "getJobStatus", { uuid });
    if (s.status !== "SCHEDULED" && s.status !== "PENDING") return;
    const wait = s.status === "SCHEDULED" ? Date.parse(s.scheduledTime) - Date.now() : 0;
    await Bun.sleep(Math.min(Math.max(wait, 100), 1000));
  }
}

export async function run(args: string[], o: Options & GlobalOptions): Promise<number> {
  const request = buildRunRequest(args, o);
  return withConnection(o, async (c) => {
    const res = await c.call(c.jobs, "runJob", request);
    if (!o.follow) {
      const more = res.status === "FAILED" || res.status === "SCHEDULED" || res.status === "PENDING" ? await c.call(c.jobs, "getJobStatus", { uuid: res.jobUuid }) : undefined;
      if (o.json) {
        printJson({
          job_uuid: res.jobUuid,
          status: res.status,
          command: request.command,
          args: request.args,
          name: request.name,
          schedule_input: o.schedule === undefined ? undefined : String(o.schedule),
          scheduled_time: more?.scheduledTime || undefined,
          cron: request.cron || undefined,
          queue_position: more?.queuePosition || undefined,
          files_uploaded: request.uploads.length,
          env_vars: Object.keys(request.environment).length,
          secret_env_vars: Object.keys(request.secretEnvironment).length,
          failure_reason: more?.failureReason || undefined,
          failure_message: more?.failureMessage || undefined,
        });
      } else {
        printFields([
          ["ID", res.jobUuid],
          ["Name", request.name],
          ["Command", [request.command, ...request.args].join(" ")],
          ["Status", res.status],
          ["Cron", request.cron],
          [request.cron ? "Next run" : "Scheduled", more?.scheduledTime],
          ["Queue", more?.queuePosition ? `position ${more.queuePosition}: ${more.pendingReason}` : undefined],
          ["Failure", more?.failureReason ? `${more.failureReason}: ${more.failureMessage}` : undefined],
        ]);
      }
      return more?.failureReason ? 1 : 0;
    }
    await untilStarted(c, res.jobUuid);
    await follow(c, res.jobUuid, o.json);
    const s = await c.call(c.jobs, "getJobStatus", { uuid: res.jobUuid });
    if (s.failureMessage) process.stderr.write(`rnx: job ${s.uuid} ${s.status} (${s.failureReason}): ${s.failureMessage}\n`);
    if (s.status === "COMPLETED") return 0;
    return s.exitCode > 0 && s.exitCode < 256 ? s.exitCode : 1;
  });
}

export async function list(_args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const { jobs } = await c.call(c.jobs, "listJobs", {});
    if (o.json) {
      return printJson(
        jobs.map((j) => ({
          id: j.uuid,
          name: j.name,
          node_id: j.nodeId,
          status: j.status,
          start_time: j.startTime,
          end_time: j.endTime,
          command: j.command,
          args: j.args,
          exit_code: j.exitCode,
          max_cpu: j.maxCpu,
          max_memory: j.maxMemory,
          max_iobps: j.maxIoBps,
          cpu_cores: j.cpuCores,
          scheduled_time: j.scheduledTime,
          failure_reason: j.failureReason,
          cron: j.cron || undefined,
          schedule_uuid: j.scheduleUuid || undefined,
          workflow_uuid: j.workflowUuid || undefined,
        })),
      );
    }
    if (jobs.length === 0) return void process.stdout.write("no jobs\n");
    printTable(
      ["UUID", "NAME", "STATUS", "EXIT", "START TIME", "DURATION", "COMMAND"],
      jobs.map((j) => [
        j.uuid,
        j.name,
        j.status,
        j.endTime ? String(j.exitCode) : "",
        (j.status === "SCHEDULED" ? `at ${j.scheduledTime}` : j.startTime).replace("T", " ").replace(/\.\d+Z$/, "Z"),
        j.status === "SCHEDULED" || j.status === "PENDING" ? "" : elapsed(j.startTime, j.endTime),
        [j.command, ...j.args].join(" ").slice(0, 80),
      ]),
    );
  });
}

export async function status(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const s = await c.call(c.jobs, "getJobStatus", { uuid: args[0]! });
    if (o.json) return printJson(snakeKeys(s));
    const limits = [s.maxCpu && `cpu ${s.maxCpu}%`, s.cpuCores && `cores ${s.cpuCores}`, s.maxMemory && `memory ${s.maxMemory} MB`, s.maxIoBps && `io ${s.maxIoBps} B/s`, s.maxPids && `pids ${s.maxPids}`].filter(Boolean).join(", ");
    const env = [...Object.entries(s.environment).map(([k, v]) => `${k}=${v}`), ...Object.keys(s.secretEnvironment).map((k) => `${k}=*** (secret)`)];
    printFields([
      ["ID", s.uuid],
      ["Name", s.name],
      ["Command", [s.command, ...s.args].join(" ")],
      ["Status", s.status],
      ["Exit code", s.endTime ? s.exitCode : undefined],
      ["Failure", s.failureReason ? `${s.failureReason}: ${s.failureMessage}` : undefined],
      ["Warning", s.warning],
      ["Cron", s.cron ? `${s.cron}${s.allowOverlap ? " (runs may overlap)" : ""}` : undefined],
      [s.cron ? "Next run" : "Scheduled", s.scheduledTime],
      ["Runs", s.cron ? `${s.runs}${s.lastRunUuid ? `, latest ${s.lastRunUuid}` : ""}` : undefined],
      ["Schedule", s.scheduleUuid],
      ["Workflow", s.workflowUuid ? `${s.workflowUuid} (step ${s.workflowJob})` : undefined],
      ["Waiting", s.status === "PENDING" ? `${s.queuePosition ? `position ${s.queuePosition}; ` : ""}${s.pendingReason}` : undefined],
      [s.status === "SCHEDULED" || s.status === "PENDING" ? "Submitted" : "Started", s.startTime],
      ["Ended", s.endTime],
      ["Duration", s.status === "SCHEDULED" || s.status === "PENDING" ? undefined : elapsed(s.startTime, s.endTime)],
      ["Timeout", s.timeout],
      ["Work dir", s.workDir],
      ["Uploads", s.uploads.join(", ")],
      ["Limits", limits],
      ["Network", s.network],
      ["Node", s.nodeId],
      ["Environment", env.join("\n             ")],
    ]);
  });
}

export async function log(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, (c) => follow(c, args[0]!, o.json));
}

export async function stop(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.jobs, "stopJob", { uuid: args[0]! });
    if (o.json) printJson(snakeKeys(r));
    else printFields([["ID", r.uuid], ["Status", r.status], ["Exit code", r.exitCode], ["Ended", r.endTime]]);
  });
}

export async function cancel(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.jobs, "cancelJob", { uuid: args[0]! });
    if (o.json) printJson(snakeKeys(r));
    else printFields([["ID", r.uuid], ["Status", r.status]]);
  });
}

export async function remove(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.jobs, "deleteJob", { uuid: args[0]! });
    if (o.json) printJson(snakeKeys(r));
    else process.stdout.write(`${r.message}\n`);
  });
}

export async function removeAll(_args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.jobs, "deleteAllJobs", {});
    if (o.json) printJson(snakeKeys(r));
    else process.stdout.write(`${r.message}\n`);
  });
}

export async function metrics(args: string[], o: GlobalOptions): Promise<number> {
  return withConnection(o, async (c) => {
    let last = -1n;
    let shown = 0;
    const show = (m: JobMetricsEvent) => {
      if (m.timestamp <= last) return; // the live stream starts with samples the history had
      last = m.timestamp;
      if (o.json) return void process.stdout.write(`${JSON.stringify(toJsonValue(snakeKeys(m)))}\n`);
      if (shown++ === 0) process.stdout.write(`${["TIME", "CPU%", "MEMORY", "LIMIT", "READ", "WRITE"].map((h, i) => (i ? h.padStart(10) : h.padEnd(24))).join("")}\n`);
      const time = new Date(Number(m.timestamp / 1_000_000n)).toISOString();
      const cells = [m.cpuPercent.toFixed(1), formatBytes(m.memoryBytes), m.memoryLimit ? formatBytes(m.memoryLimit) : "-", formatBytes(m.diskReadBytes), formatBytes(m.diskWriteBytes)];
      process.stdout.write(`${time.padEnd(24)}${cells.map((x) => x.padStart(10)).join("")}\n`);
    };
    const jobUuid = args[0]!;
    for await (const m of c.stream(c.jobs, "getJobMetrics", { jobUuid, startTime: 0n, endTime: 0n, limit: 0 })) show(m);
    for await (const m of c.stream(c.jobs, "streamJobMetrics", { jobUuid })) show(m);
    if (last < 0n) {
      process.stderr.write(`rnx: no metrics for job ${jobUuid} (samples are taken every telemetry.metrics_interval)\n`);
      return 1;
    }
    return 0;
  });
}

export async function telematics(args: string[], o: Options & GlobalOptions): Promise<void> {
  const types = listOption(o.types).flatMap((t) => t.split(",")).filter(Boolean);
  await withConnection(o, async (c) => {
    for await (const e of c.stream(c.jobs, "streamJobTelematics", { jobUuid: args[0]!, types })) printJson(e);
  });
}
