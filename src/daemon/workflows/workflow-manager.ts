// Workflows: jobs from a YAML file that start as their requirements hold. Every step is a job
// record from the start (PENDING, held by the JobManager), so its uploads, sealed secrets and
// status survive a restart like any waiting job's. The manager watches its steps' records and,
// whenever one changes, releases the steps that became ready and cancels those that can no
// longer run (and so, in turn, their dependents).
import { randomUUID } from "node:crypto";
import { isMap, stringify } from "yaml";
import { checkAvailability, parseWorkflowYaml, WorkflowError, type Requirement, type WorkflowJobSpec, type WorkflowSpec } from "../../config/workflow-schema";
import { NOT_PRINTABLE, quote } from "../../config/values";
import { parseYaml } from "../../config/yaml";
import type { FileUpload, RunJobRequest, RunWorkflowRequest } from "../../gen/joblet";
import { ApiError, invalid, notFound, precondition } from "../errors";
import type { JobRecord } from "../jobs/job";
import type { JobManager, Submission } from "../jobs/job-manager";
import type { Logger } from "../logging/logger";
import type { Table } from "../state/store";
import { evaluate, isTerminal, requirementMet, workflowStatus, type JobState, type WorkflowState } from "./graph";

export interface WorkflowStep {
  name: string;
  uuid: string;
  requires: Requirement[];
  /** how its job ended, once it has: kept should the job record be deleted before the workflow ends */
  ended?: JobState;
}

export interface WorkflowRecord {
  uuid: string;
  /** the file name given at submission */
  workflow: string;
  name: string;
  description: string;
  /** the YAML as submitted, with its secret_environment values replaced (see redactSecrets) */
  yaml: string;
  status: WorkflowState;
  /** canceled by request (CancelWorkflow) */
  canceled: boolean;
  createdAt: string;
  startedAt?: string;
  completedAt?: string;
  /** in dependency order */
  steps: WorkflowStep[];
}

/** What the server offers that a workflow may name (networking, volumes and runtimes plug in here). */
export interface Available {
  networks: readonly string[];
  volumes: readonly string[];
  runtimes: readonly string[];
}

const MIN_PREFIX = 8;
const MAX_FILE_NAME = 255;

export class WorkflowManager {
  /** workflows whose steps changed, evaluated once per turn of the event loop */
  private readonly dirty = new Set<string>();
  private readonly unwatch: () => void;
  /** the daemon is stopping (close()) */
  private stopping = false;

  constructor(
    private readonly store: Table<WorkflowRecord>,
    private readonly jobs: JobManager,
    private readonly available: () => Available,
    private readonly log: Logger,
  ) {
    this.unwatch = jobs.watch((job) => {
      if (job.workflowUuid && !this.stopping) this.touch(job.workflowUuid);
    });
  }

  /** The daemon stops: nothing is released or canceled from now on; recover() at the next start carries every workflow on. */
  close(): void {
    this.stopping = true;
    this.unwatch();
  }

  /** Checks the whole workflow (YAML, what it names, every step as a RunJob request), then records it and its steps. */
  run(req: RunWorkflowRequest): WorkflowRecord {
    // the file name is shown in every answer about the workflow: a name, not a payload
    if (Buffer.byteLength(req.workflow) > MAX_FILE_NAME || NOT_PRINTABLE.test(req.workflow)) {
      throw invalid(`workflow: the file name ${quote(req.workflow, 60)} must be at most ${MAX_FILE_NAME} bytes without control characters`);
    }
    let spec: WorkflowSpec;
    try {
      spec = parseWorkflowYaml(req.yamlContent);
    } catch (e) {
      if (e instanceof WorkflowError) throw invalid(`workflow ${req.workflow || "YAML"}:\n${listed(e.problems)}`);
      throw e;
    }
    const problems: string[] = [];
    if (req.totalJobs && req.totalJobs !== spec.jobs.length) problems.push(`total_jobs: the client counted ${req.totalJobs} jobs, the YAML has ${spec.jobs.length}`);
    const files = new Map<string, FileUpload>();
    for (const f of req.workflowFiles) files.set(f.path, f);
    const subs = new Map<string, Submission>();
    const available = this.available();
    for (const job of spec.jobs) {
      // a network, volume or runtime this server lacks: said once, by the field that names it
      const lacking = checkAvailability({ ...spec, jobs: [job] }, available);
      if (lacking.length) {
        problems.push(...lacking);
        continue;
      }
      const missing = job.uploads.filter((p) => !files.has(p));
      if (missing.length) {
        problems.push(`jobs.${job.name}.uploads.files: ${missing.map((p) => JSON.stringify(p)).join(", ")} not sent (rnx workflow run sends every file the YAML names, relative to the YAML file)`);
        continue;
      }
      try {
        subs.set(job.name, this.jobs.check(stepRequest(job, files)));
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        problems.push(`jobs.${job.name}: ${e.message}`);
      }
    }
    if (problems.length) throw invalid(`workflow ${req.workflow || spec.name}:\n${listed(problems)}`);

    const uuid = randomUUID();
    // the steps first: a crash before the workflow is recorded leaves held steps that recover()
    // cancels; a failure here cancels those made so far at once
    const steps: WorkflowStep[] = [];
    const undo = (e: unknown): never => {
      for (const s of steps) {
        try {
          this.jobs.cancel(s.uuid, `its workflow could not be started: ${(e as Error).message}`);
        } catch {
          // it ended already (its workspace could not be made)
        }
      }
      throw e;
    };
    try {
      for (const job of spec.jobs) steps.push({ name: job.name, uuid: this.jobs.submitStep(subs.get(job.name)!, { workflowUuid: uuid, name: job.name }).uuid, requires: job.requires });
    } catch (e) {
      undo(e);
    }
    const wf: WorkflowRecord = {
      uuid,
      workflow: req.workflow,
      name: spec.name,
      description: spec.description,
      yaml: redactSecrets(req.yamlContent, spec),
      status: "PENDING",
      canceled: false,
      createdAt: new Date().toISOString(),
      steps,
    };
    try {
      this.store.put(wf);
    } catch (e) {
      undo(e);
    }
    this.log.info("workflow started", { workflow: uuid, name: spec.name, jobs: steps.length });
    this.advance(wf);
    return this.store.get(uuid) ?? wf;
  }

  /** After JobManager.recover(): workflows carry on from their steps' recorded states. */
  recover(): void {
    const known = new Set<string>();
    for (const wf of this.store.list()) {
      known.add(wf.uuid);
      if (!isWorkflowDone(wf.status)) this.advance(wf);
    }
    for (const job of this.jobs.list()) {
      if (job.workflowUuid && job.held && !known.has(job.workflowUuid)) this.jobs.cancel(job.uuid, "its workflow was never recorded (the daemon stopped while starting it)");
    }
  }

  private touch(uuid: string): void {
    if (this.dirty.has(uuid)) return;
    this.dirty.add(uuid);
    queueMicrotask(() => {
      this.dirty.delete(uuid);
      if (this.stopping) return;
      try {
        const wf = this.store.get(uuid);
        if (wf && !isWorkflowDone(wf.status)) this.advance(wf);
      } catch (e) {
        // e.g. the state cannot be written (disk full): the next change of a step, or the next
        // start (recover), evaluates the workflow again; the daemon carries on
        this.log.error("workflow not advanced", { workflow: uuid, error: (e as Error).message });
      }
    });
  }

  /** Releases the steps whose requirements hold, cancels those that can never run, and records the workflow's state. */
  private advance(wf: WorkflowRecord): void {
    const graph = wf.steps.map((s) => {
      const job = this.jobs.get(s.uuid);
      return { name: s.name, requires: s.requires, status: stepState(s, job), started: !job?.held };
    });
    const { ready, impossible } = wf.canceled ? { ready: [], impossible: [] } : evaluate(graph);
    for (const name of impossible) {
      const step = wf.steps.find((s) => s.name === name)!;
      // each requirement that cannot hold: one that ended otherwise, or one that is canceled now too
      const why = step.requires
        .map((r) => {
          const status = graph.find((g) => g.name === r.job)?.status ?? "CANCELED";
          if (isTerminal(status)) return requirementMet(r, status) ? undefined : `${r.job} ended ${status}, required ${r.status}`;
          return impossible.includes(r.job) && !requirementMet(r, "CANCELED") ? `${r.job} will never run (canceled), required ${r.status}` : undefined;
        })
        .filter((x) => x !== undefined)
        .join("; ");
      this.jobs.cancel(step.uuid, `a requirement can no longer hold: ${why || "a required job was canceled"}`);
    }
    for (const name of ready) this.jobs.releaseStep(wf.steps.find((s) => s.name === name)!.uuid);

    // how each step ended is kept in the workflow too: a step's job may be deleted (rnx job
    // delete, the retention sweep) while steps that require it still wait
    let changed = false;
    const statuses = wf.steps.map((s) => {
      const state = stepState(s, this.jobs.get(s.uuid));
      if (isTerminal(state) && s.ended !== state) {
        s.ended = state;
        changed = true;
      }
      return state;
    });
    const status = workflowStatus(statuses, wf.canceled);
    if (status === wf.status && wf.startedAt && !changed) return;
    const now = new Date().toISOString();
    if (status !== "PENDING" && !wf.startedAt) wf.startedAt = now;
    if (isWorkflowDone(status) && !wf.completedAt) wf.completedAt = now;
    if (status !== wf.status) this.log.info("workflow state", { workflow: wf.uuid, status });
    wf.status = status;
    this.store.put(wf);
  }

  /** A workflow by uuid or by a unique prefix of at least 8 characters. */
  resolve(id: string): WorkflowRecord {
    const exact = this.store.get(id);
    if (exact) return exact;
    if (!id) throw invalid("uuid: a workflow id is required");
    if (id.length < MIN_PREFIX) throw invalid(`uuid: "${id}" is too short; give the full uuid or at least ${MIN_PREFIX} characters of it`);
    const matches = this.store.scan().filter((w) => w.uuid.startsWith(id.toLowerCase()));
    if (matches.length === 1) return structuredClone(matches[0]!) as WorkflowRecord;
    if (matches.length > 1) throw invalid(`uuid: "${id}" matches ${matches.length} workflows (${matches.map((w) => w.uuid).join(", ")}); give more characters`);
    throw notFound(`workflow ${id} not found`);
  }

  /** Oldest first. */
  list(includeCompleted: boolean): WorkflowRecord[] {
    return this.store
      .list()
      .filter((w) => includeCompleted || !isWorkflowDone(w.status))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** The records of a workflow's steps, in its order (undefined for one deleted meanwhile). */
  stepsOf(wf: WorkflowRecord): { step: WorkflowStep; job: JobRecord | undefined }[] {
    return wf.steps.map((step) => ({ step, job: this.jobs.get(step.uuid) }));
  }

  /** Cancels the steps that have not started and stops the running ones; resolves when all have ended. */
  async cancel(id: string): Promise<WorkflowRecord> {
    const wf = this.resolve(id);
    if (isWorkflowDone(wf.status)) throw precondition(`workflow ${wf.uuid} is ${wf.status}; only a workflow still running can be canceled`);
    wf.canceled = true;
    this.store.put(wf);
    const stops: Promise<unknown>[] = [];
    for (const { step, job } of this.stepsOf(wf)) {
      if (!job || isTerminal(job.status as JobState)) continue;
      if (job.status === "PENDING" || job.status === "SCHEDULED") this.jobs.cancel(step.uuid, `workflow ${wf.uuid} was canceled`);
      else stops.push(this.jobs.stop(step.uuid).catch(() => undefined)); // it may end by itself meanwhile
    }
    await Promise.all(stops);
    this.advance(this.store.get(wf.uuid)!);
    this.log.info("workflow canceled", { workflow: wf.uuid });
    return this.store.get(wf.uuid)!;
  }

  /** A finished workflow, with its jobs and their logs; how many jobs were deleted with it. */
  delete(id: string): { workflow: WorkflowRecord; jobs: number } {
    const wf = this.resolve(id);
    if (!isWorkflowDone(wf.status)) throw precondition(`workflow ${wf.uuid} is ${wf.status}; cancel it before deleting it`);
    let jobs = 0;
    for (const { step, job } of this.stepsOf(wf)) {
      if (!job) continue; // deleted before
      this.jobs.delete(step.uuid);
      jobs++;
    }
    this.store.delete(wf.uuid);
    return { workflow: wf, jobs };
  }
}

/** A step's state: its job's, or, once that is deleted, how it ended (a job deleted before it ended can only have been CANCELED). */
export function stepState(step: WorkflowStep, job: Readonly<JobRecord> | undefined): JobState {
  return (job?.status as JobState | undefined) ?? step.ended ?? "CANCELED";
}

export function isWorkflowDone(s: WorkflowState): boolean {
  return s === "COMPLETED" || s === "FAILED" || s === "CANCELED";
}

const MAX_PROBLEMS = 100;
const MAX_PROBLEM = 500;

/**
 * Problems, one a line, for an answer: each line cut at MAX_PROBLEM characters and at most
 * MAX_PROBLEMS lines, so that a workflow with a thousand bad jobs (or one problem quoting a
 * thousand CPUs) still gets an answer that names every kind of mistake near its top.
 */
function listed(problems: readonly string[]): string {
  const lines = problems.slice(0, MAX_PROBLEMS).map((p) => (p.length > MAX_PROBLEM ? `${p.slice(0, MAX_PROBLEM)}… (${p.length - MAX_PROBLEM} more characters)` : p));
  if (problems.length > MAX_PROBLEMS) lines.push(`… and ${problems.length - MAX_PROBLEMS} more problems`);
  return lines.join("\n");
}

const REDACTED = "<redacted>";

/**
 * The YAML to keep and show (GetWorkflowStatus include_yaml): secret_environment values must not
 * be stored in clear (the steps keep them sealed) nor shown back. A YAML without secrets is kept
 * byte for byte; otherwise each job's secret_environment becomes its names with a placeholder,
 * comments and layout kept. Where that cannot be done faithfully (an anchor inside a secret
 * mapping used elsewhere), the parsed file is written out again instead, with the same placeholders.
 */
export function redactSecrets(text: string, spec: WorkflowSpec): string {
  const secrets = new Map(spec.jobs.filter((j) => Object.keys(j.secretEnvironment).length).map((j) => [j.name, Object.keys(j.secretEnvironment)]));
  if (secrets.size === 0) return text;
  const placeholders = (names: string[]) => Object.fromEntries(names.map((n) => [n, REDACTED]));
  const expected = JSON.stringify(spec.jobs.map((j) => ({ ...j, secretEnvironment: placeholders(Object.keys(j.secretEnvironment)) })));
  const faithful = (out: string): boolean => {
    try {
      return JSON.stringify(parseWorkflowYaml(out).jobs) === expected;
    } catch {
      return false;
    }
  };
  try {
    const doc = parseYaml(text, { merge: true }).doc!; // it parsed before (parseWorkflowYaml)
    const jobs = doc.get("jobs", true);
    if (isMap(jobs)) {
      for (const pair of jobs.items) {
        const names = secrets.get(String((pair.key as { value?: unknown } | null)?.value ?? pair.key));
        if (names && isMap(pair.value)) pair.value.set("secret_environment", doc.createNode(placeholders(names)));
      }
    }
    const out = doc.toString();
    if (faithful(out)) return out;
  } catch {
    // below
  }
  const raw = parseYaml(text, { merge: true }).doc!.toJS() as { jobs: Record<string, Record<string, unknown>> };
  for (const [name, names] of secrets) raw.jobs[name]!.secret_environment = placeholders(names);
  const out = stringify(raw);
  if (faithful(out)) return out;
  // never keep a secret: the names alone
  return stringify({ note: "the workflow YAML could not be kept without its secret values", jobs: spec.jobs.map((j) => j.name) });
}

/** A step as the RunJob request it amounts to; its uploads are the files it names. */
function stepRequest(job: WorkflowJobSpec, files: Map<string, FileUpload>): RunJobRequest {
  return {
    command: job.command,
    args: job.args,
    maxCpu: job.maxCpu,
    cpuCores: job.cpuCores,
    maxMemory: job.maxMemory,
    maxIoBps: job.maxIoBps,
    maxPids: job.maxPids,
    uploads: job.uploads.map((p) => files.get(p)!),
    schedule: "",
    cron: "",
    allowOverlap: false,
    network: job.network,
    volumes: job.volumes,
    runtime: job.runtime,
    workDir: job.workDir,
    environment: job.environment,
    secretEnvironment: job.secretEnvironment,
    gpuCount: job.gpuCount,
    gpuMemoryMb: job.gpuMemoryMb,
    name: job.name,
    timeout: job.timeout,
  };
}
