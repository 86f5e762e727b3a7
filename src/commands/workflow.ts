// rnx workflow …: run jobs with dependencies from a YAML file (WorkflowService, our extension).
import { lstatSync, readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { parseWorkflowYaml, WorkflowError, type WorkflowSpec } from "../config/workflow-schema";
import type { FileUpload, WorkflowInfo } from "../gen/joblet";
import { snakeKeys } from "../api/json";
import { CommandError, UsageError, type Options } from "./cli";
import { withConnection, type GlobalOptions } from "./connection";
import { printFields, printJson, printTable } from "./output";

/** The YAML checked here first, so a mistake is reported before anything is sent. */
function readWorkflow(file: string): { text: string; spec: WorkflowSpec } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`workflow run: cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return { text, spec: parseWorkflowYaml(text) };
  } catch (e) {
    if (e instanceof WorkflowError) throw new CommandError(`${file}:\n${e.problems.map((p) => `  ${p}`).join("\n")}`);
    throw e;
  }
}

/**
 * Every file the YAML names, once, by the path as written, read relative to the YAML file. Every
 * file that cannot be sent is reported at once, naming each job and entry that lists it.
 */
function readUploads(file: string, spec: WorkflowSpec): FileUpload[] {
  const dir = dirname(resolve(file));
  const out = new Map<string, FileUpload>();
  const problems: string[] = [];
  for (const job of spec.jobs) {
    job.uploads.forEach((p, i) => {
      const full = resolve(dir, p);
      let why: string | undefined;
      if (!out.has(p)) {
        try {
          const st = lstatSync(full);
          if (!st.isFile()) why = "not a regular file (directories, symlinks and devices are not uploaded)";
          else out.set(p, { path: p, content: readFileSync(full), mode: st.mode & 0o7777, isDirectory: false });
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          why = err.code === "ENOENT" ? "no such file" : err.code === "EACCES" ? "permission denied" : err.message;
        }
      }
      if (why) problems.push(`jobs.${job.name}.uploads.files[${i}]: ${JSON.stringify(p)}: ${full}: ${why}`);
    });
  }
  if (problems.length) throw new CommandError(`${file}:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  return [...out.values()];
}

export async function run(args: string[], o: GlobalOptions): Promise<void> {
  const file = args[0]!;
  const { text, spec } = readWorkflow(file);
  const workflowFiles = readUploads(file, spec);
  await withConnection(o, async (c) => {
    const r = await c.call(c.workflows, "runWorkflow", {
      workflow: basename(file),
      totalJobs: spec.jobs.length,
      jobOrder: spec.jobs.map((j) => j.name),
      yamlContent: text,
      workflowFiles,
    });
    if (o.json) return printJson({ workflow_uuid: r.workflowUuid, status: r.status, name: spec.name, total_jobs: spec.jobs.length, files_uploaded: workflowFiles.length });
    printFields([
      ["ID", r.workflowUuid],
      ["Name", spec.name],
      ["Status", r.status],
      ["Jobs", spec.jobs.map((j) => j.name).join(", ")],
      ["Files", workflowFiles.length ? String(workflowFiles.length) : undefined],
    ]);
  });
}

const progress = (w: WorkflowInfo) => `${w.completedJobs}/${w.totalJobs}`;

export async function list(_args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const { workflows } = await c.call(c.workflows, "listWorkflows", { includeCompleted: true });
    if (o.json) return printJson(workflows.map((w) => snakeKeys(w)));
    if (workflows.length === 0) return void process.stdout.write("no workflows\n");
    printTable(
      ["UUID", "NAME", "STATUS", "PROGRESS", "FAILED", "CANCELED", "CREATED"],
      workflows.map((w) => [w.uuid, w.name, w.status, progress(w), String(w.failedJobs), String(w.canceledJobs), w.createdAt.replace("T", " ").replace(/\.\d+Z$/, "Z")]),
    );
  });
}

export async function status(args: string[], o: Options & GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.workflows, "getWorkflowStatus", { uuid: args[0]!, includeYaml: Boolean(o.detail) });
    const w = r.workflow!;
    if (o.json) return printJson({ workflow: snakeKeys(w), jobs: r.jobs.map((j) => snakeKeys(j)) });
    printFields([
      ["ID", w.uuid],
      ["Name", w.name],
      ["File", w.workflow],
      ["Status", w.status],
      ["Progress", `${progress(w)} completed, ${w.runningJobs} running, ${w.failedJobs} failed, ${w.canceledJobs} canceled`],
      ["Created", w.createdAt],
      ["Started", w.startedAt],
      ["Completed", w.completedAt],
    ]);
    process.stdout.write("\n");
    printTable(
      ["JOB", "UUID", "STATUS", "EXIT", "REQUIRES", "NOTE"],
      r.jobs.map((j) => [
        j.jobName,
        j.jobUuid,
        j.status,
        j.endTime && j.status !== "CANCELED" ? String(j.exitCode) : "",
        j.dependencies.join(", ") || "-",
        j.failureReason ? `${j.failureReason}: ${j.failureMessage}` : j.failureMessage,
      ]),
    );
    if (o.detail) process.stdout.write(`\n${w.yamlContent}${w.yamlContent.endsWith("\n") ? "" : "\n"}`);
  });
}

export async function cancel(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.workflows, "cancelWorkflow", { uuid: args[0]! });
    if (o.json) printJson(snakeKeys(r));
    else printFields([["ID", r.uuid], ["Status", r.status]]);
  });
}

export async function remove(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.workflows, "deleteWorkflow", { uuid: args[0]! });
    if (o.json) printJson(snakeKeys(r));
    else process.stdout.write(`${r.message}\n`);
  });
}
