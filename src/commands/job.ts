// rnx job …: submit, inspect, follow and stop jobs (JobService).
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import type { FileUpload, RunJobRequest } from "../gen/joblet";
import { listOption, UsageError, type Options } from "./cli";
import { withConnection, type GlobalOptions } from "./connection";
import { printFields, printJson, printTable } from "./output";

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

function uploadFile(path: string, as: string): FileUpload {
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

export function buildRunRequest(args: string[], o: Options): RunJobRequest {
  const [command, ...rest] = args;
  if (!command) throw new UsageError("job run: a command is required");
  if (o.schedule !== undefined) throw new UsageError("--schedule: scheduled jobs are not implemented yet");
  return {
    command,
    args: rest,
    maxCpu: intFlag("--max-cpu", o.maxCpu, "a CPU percentage (100 = one core)"),
    cpuCores: o.cpuCores === undefined ? "" : String(o.cpuCores),
    maxMemory: intFlag("--max-memory", o.maxMemory, "a memory limit in MB"),
    maxIoBps: intFlag("--max-iobps", o.maxIobps, "an IO limit in bytes per second"),
    uploads: [...listOption(o.upload).map((f) => uploadFile(f, basename(f))), ...listOption(o.uploadDir).flatMap(uploadDir)],
    schedule: "",
    network: o.network === undefined ? "" : String(o.network),
    volumes: listOption(o.volume),
    runtime: o.runtime === undefined ? "" : String(o.runtime),
    workDir: o.workdir === undefined ? "" : String(o.workdir),
    environment: parseEnv("--env", listOption(o.env)),
    secretEnvironment: parseEnv("--secret-env", listOption(o.secretEnv)),
    gpuCount: intFlag("--gpu", o.gpu, "a number of GPUs"),
    gpuMemoryMb: intFlag("--gpu-memory", o.gpuMemory, "GPU memory in MB"),
  };
}

export async function run(args: string[], o: Options & GlobalOptions): Promise<void> {
  const request = buildRunRequest(args, o);
  await withConnection(o, async (c) => {
    const res = await c.call(c.jobs, "runJob", request);
    if (o.json) printJson({ job_uuid: res.jobUuid, status: res.status, command: request.command, args: request.args });
    else printFields([["ID", res.jobUuid], ["Command", [request.command, ...request.args].join(" ")], ["Status", res.status]]);
  });
}

export async function list(_args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const { jobs } = await c.call(c.jobs, "listJobs", {});
    if (o.json) return printJson(jobs);
    printTable(
      ["UUID", "STATUS", "START TIME", "COMMAND"],
      jobs.map((j) => [j.uuid, j.status, j.startTime, [j.command, ...j.args].join(" ").slice(0, 80)]),
    );
  });
}

export async function status(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const s = await c.call(c.jobs, "getJobStatus", { uuid: args[0]! });
    if (o.json) return printJson(s);
    printFields([
      ["ID", s.uuid],
      ["Command", [s.command, ...s.args].join(" ")],
      ["Status", s.status],
      ["Started", s.startTime],
      ["Ended", s.endTime],
      ["Exit code", s.endTime ? s.exitCode : undefined],
      ["Node", s.nodeId],
    ]);
  });
}

export async function log(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    for await (const chunk of c.stream(c.jobs, "getJobLogs", { uuid: args[0]! })) {
      if (o.json) process.stdout.write(`${JSON.stringify({ timestamp: new Date().toISOString(), data: Buffer.from(chunk.payload).toString() })}\n`);
      else process.stdout.write(chunk.payload);
    }
  });
}

export async function stop(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.jobs, "stopJob", { uuid: args[0]! });
    if (o.json) printJson(r);
    else printFields([["ID", r.uuid], ["Status", r.status], ["Exit code", r.exitCode]]);
  });
}

export async function cancel(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.jobs, "cancelJob", { uuid: args[0]! });
    if (o.json) printJson(r);
    else printFields([["ID", r.uuid], ["Status", r.status]]);
  });
}

export async function remove(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.jobs, "deleteJob", { uuid: args[0]! });
    if (o.json) printJson(r);
    else process.stdout.write(`${r.message || `deleted ${r.uuid}`}\n`);
  });
}

export async function removeAll(_args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.jobs, "deleteAllJobs", {});
    if (o.json) printJson({ success: r.success, message: r.message, deleted_count: r.deletedCount, skipped_count: r.skippedCount });
    else process.stdout.write(`${r.message || `deleted ${r.deletedCount}, skipped ${r.skippedCount}`}\n`);
  });
}

export async function metrics(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    for await (const m of c.stream(c.jobs, "getJobMetrics", { jobUuid: args[0]!, startTime: 0n, endTime: 0n, limit: 0 })) printJson(m);
  });
}

export async function telematics(args: string[], o: Options & GlobalOptions): Promise<void> {
  const types = listOption(o.types).flatMap((t) => t.split(",")).filter(Boolean);
  await withConnection(o, async (c) => {
    for await (const e of c.stream(c.jobs, "streamJobTelematics", { jobUuid: args[0]!, types })) printJson(e);
  });
}
