// A workflow file (Joblet's YAML, reference §4.1): jobs with dependencies. Read by `rnx workflow run`
// and again by the server. Every problem is reported at once as `<path>: <message>`; unknown keys are
// errors, not warnings, because a typo such as `requries:` would otherwise drop a dependency.
import { isMap, isScalar, isSeq, type Document } from "yaml";
import { z } from "zod";
import { formatPath } from "./check";
import { absolutePath, fileVersion, int, leaf, list, nonEmptyStr, NOT_PRINTABLE, parseDuration, quote, show, str } from "./values";
import { parseYaml, toPlain } from "./yaml";

export const REQUIRED_STATUSES = ["COMPLETED", "FAILED", "STOPPED", "CANCELED", "FINISHED"] as const;
/** FINISHED = any terminal state. */
export type RequiredStatus = (typeof REQUIRED_STATUSES)[number];

export interface Requirement {
  job: string;
  status: RequiredStatus;
}

export interface WorkflowJobSpec {
  name: string;
  command: string;
  args: string[];
  runtime: string;
  network: string;
  volumes: string[];
  uploads: string[];
  maxCpu: number;
  maxMemory: number;
  maxIoBps: number;
  cpuCores: string;
  maxPids: number;
  gpuCount: number;
  gpuMemoryMb: number;
  environment: Record<string, string>;
  secretEnvironment: Record<string, string>;
  workDir: string;
  timeout: string;
  requires: Requirement[];
}

export interface WorkflowSpec {
  name: string;
  description: string;
  /** In topological order; jobs that could run at the same time keep their order in the file. */
  jobs: WorkflowJobSpec[];
}

export class WorkflowError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "WorkflowError";
  }
}

export const MAX_JOBS = 1000;
const MAX_NAME = 128;
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const INT32_MAX = 2 ** 31 - 1; // the RunJob fields are int32

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A mapping whose unknown keys are errors; the issue's message lists the accepted keys. */
const block = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject(shape, {
    error: (iss) =>
      iss.code === "invalid_type" ? `expected a mapping, got ${show(iss.input)}` : iss.code === "unrecognized_keys" ? `accepted: ${Object.keys(shape).join(", ")}` : undefined,
  });

/** YAML scalars where a string is meant: `PORT: 8080` and `args: [1, true]` are taken as text. */
function scalarText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

const text = () => leaf("a string, number or true/false", scalarText);

/** environment / secret_environment: every bad name and every bad value is reported. */
const envMap = () =>
  z.unknown().transform((v, ctx): Record<string, string> => {
    if (!isMapping(v)) {
      ctx.addIssue({ code: "custom", message: `expected a mapping of variable names to values, got ${show(v)}`, input: v });
      return z.NEVER;
    }
    const out: Record<string, string> = {};
    let bad = false;
    for (const [name, value] of Object.entries(v)) {
      if (!ENV_NAME.test(name)) {
        bad = true;
        ctx.addIssue({ code: "custom", message: `variable name ${quote(name, 60)} must match [A-Za-z_][A-Za-z0-9_]*`, input: v });
      }
      const s = scalarText(value);
      if (s === undefined) {
        bad = true;
        ctx.addIssue({ code: "custom", path: [name], message: `expected a string, number or true/false, got ${show(value)}`, input: value });
      } else out[name] = s;
    }
    return bad ? z.NEVER : out;
  });

/** A file path relative to the workflow file: it may not reach outside that directory. */
const uploadPath = () =>
  leaf('a path relative to the workflow file (no leading "/", no "..")', (v) =>
    typeof v === "string" && v !== "" && !v.startsWith("/") && !v.includes("\0") && !v.split("/").includes("..") ? v : undefined,
  );

const limit = (form = "a non-negative integer (0 = unlimited)") => int(0, INT32_MAX, form).default(0);

const cpuCores = () =>
  leaf('a CPU list such as "0-3" or "1,3,5"', (v) => {
    const s = typeof v === "number" ? String(v) : v;
    return typeof s === "string" && /^(\d+(-\d+)?(,\d+(-\d+)?)*)?$/.test(s) ? s : undefined;
  });

const statusLeaf = () =>
  leaf(`one of ${REQUIRED_STATUSES.map((s) => `"${s}"`).join(", ")} (any case)`, (v) => {
    const s = typeof v === "string" ? v.toUpperCase() : undefined;
    return REQUIRED_STATUSES.find((r) => r === s);
  });

/** `- extract: COMPLETED`: one job per list item, as in Joblet. */
const requirement = () =>
  z
    .record(z.string(), statusLeaf(), {
      error: (iss) => (iss.code === "invalid_type" ? `expected a requirement such as "- extract: COMPLETED", got ${show(iss.input)}` : undefined),
    })
    .check((ctx) => {
      const keys = Object.keys(ctx.value);
      if (keys.length !== 1) {
        ctx.issues.push({ code: "custom", message: `expected one "job: STATUS" pair per list item, got ${keys.length}${keys.length ? ` (${keys.join(", ")}); put each on its own "- " line` : ""}`, input: ctx.value });
      }
    })
    .transform((r): Requirement => {
      const [job, status] = Object.entries(r)[0]!;
      return { job, status };
    });

const resources = block({
  max_cpu: limit("a CPU limit in percent (0 = unlimited)"),
  max_memory: limit("a memory limit in MB (0 = unlimited)"),
  max_io_bps: int(0, INT32_MAX, "an I/O limit in bytes per second (0 = unlimited)").optional(),
  /** the spelling Joblet's client used */
  max_iobps: int(0, INT32_MAX, "an I/O limit in bytes per second (0 = unlimited)").optional(),
  cpu_cores: cpuCores().default(""),
  max_pids: limit("a process limit (0 = the server's default)"),
  gpu_count: limit("a number of GPUs (0 = none)"),
  gpu_memory_mb: limit("GPU memory in MB (0 = any)"),
})
  .check((ctx) => {
    if (ctx.value.max_io_bps !== undefined && ctx.value.max_iobps !== undefined) {
      ctx.issues.push({ code: "custom", path: ["max_iobps"], message: "give max_io_bps or its alias max_iobps, not both", input: ctx.value.max_iobps });
    }
  })
  .prefault({});

const job = block({
  command: leaf("a program name or path (non-empty, no NUL)", (v) => (typeof v === "string" && v.trim() !== "" && !v.includes("\0") ? v : undefined)),
  args: list(text()).default([]),
  runtime: str("a runtime name").default(""),
  network: str("a network name").default(""),
  volumes: list(nonEmptyStr("a volume name")).default([]),
  uploads: block({ files: list(uploadPath()).default([]) }).prefault({}),
  resources,
  environment: envMap().default({}),
  secret_environment: envMap().default({}),
  workdir: absolutePath().default(""),
  /** joblet extension: passed to RunJob, which applies it */
  timeout: leaf('a duration such as "30s", "5m" or "2h"', (v) => (typeof v === "string" && (parseDuration(v) ?? 0) > 0 ? v : undefined)).default(""),
  description: str().default(""),
  requires: list(requirement()).default([]),
});

const workflowSchema = block({
  name: leaf(`a name of at most ${MAX_NAME} printable characters`, (v) => (typeof v === "string" && v.length <= MAX_NAME && !NOT_PRINTABLE.test(v) ? v : undefined)).optional(),
  description: str().default(""),
  version: fileVersion().optional(), // accepted, ignored
  jobs: z.record(z.string(), job, {
    error: (iss) => (iss.code === "invalid_type" ? `expected a mapping of job names to jobs, got ${show(iss.input)}` : undefined),
  }),
});

type ParsedJob = z.output<typeof job>;

function issueProblems(issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = [];
  for (const iss of issues) {
    if (iss.code === "unrecognized_keys") {
      for (const key of iss.keys) out.push(`${formatPath([...iss.path, key])}: unknown key ${quote(key, 60)} (${iss.message})`);
    } else out.push(`${formatPath(iss.path)}: ${iss.message}`);
  }
  return out;
}

/**
 * YAML reads `VERSION: 1.10` as the number 1.1 and `ZIP: 02134` as 2134. Args and environment values
 * are strings, so keep such scalars as written (as Go's yaml does for string fields).
 */
function keepScalarText(doc: Document): void {
  const jobs = doc.get("jobs", true);
  if (!isMap(jobs)) return;
  for (const pair of jobs.items) {
    if (!isMap(pair.value)) continue;
    for (const key of ["args", "environment", "secret_environment"]) {
      const node: unknown = pair.value.get(key, true);
      const items: unknown[] = isSeq(node) ? node.items : isMap(node) ? node.items.map((p) => p.value) : [];
      for (const s of items) {
        if (isScalar(s) && (typeof s.value === "number" || typeof s.value === "boolean") && s.source !== undefined) s.value = s.source;
      }
    }
  }
}

/** The dependency edges as written, read from the raw document so they are checked even when values are not. */
function rawRequires(rawJob: unknown): (string | undefined)[] {
  const reqs = isMapping(rawJob) ? rawJob.requires : undefined;
  if (!Array.isArray(reqs)) return [];
  return reqs.map((r) => (isMapping(r) && Object.keys(r).length === 1 ? Object.keys(r)[0] : undefined));
}

/** Job names, references, duplicates and cycles. `x → y` in a cycle means y requires x (x runs first). */
function graphProblems(rawJobs: unknown): string[] {
  if (!isMapping(rawJobs)) return []; // the schema reports it
  const names = Object.keys(rawJobs);
  const problems: string[] = [];
  if (names.length === 0) problems.push("jobs: expected at least one job");
  if (names.length > MAX_JOBS) problems.push(`jobs: at most ${MAX_JOBS} jobs are allowed, got ${names.length}`);
  for (const n of names) if (!JOB_NAME.test(n)) problems.push(`jobs: job name ${quote(n, 100)} must match ${JOB_NAME.source.slice(1, -1)}`);

  const known = new Set(names);
  const dependents = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const name of names) {
    const seen = new Map<string, number>();
    rawRequires(rawJobs[name]).forEach((dep, i) => {
      if (dep === undefined) return; // malformed item: the schema reports it
      const at = `jobs.${name}.requires[${i}]`;
      if (dep === name) problems.push(`${at}: a job cannot require itself`);
      else if (!known.has(dep)) problems.push(`${at}: unknown job ${quote(dep, 60)} (jobs: ${names.length > 20 ? `${names.slice(0, 20).join(", ")}, …` : names.join(", ")})`);
      else if (seen.has(dep)) problems.push(`${at}: requires ${JSON.stringify(dep)} again (already at requires[${seen.get(dep)}])`);
      else dependents.get(dep)!.push(name);
      if (!seen.has(dep)) seen.set(dep, i);
    });
  }
  return [...problems, ...cycles(names, dependents).map((c) => `jobs: dependency cycle: ${c.join(" → ")}`)];
}

/**
 * One cycle per back edge of a depth-first search in file order: removing each reported cycle's last
 * edge leaves no cycle, and each cycle is named once, starting at its job that comes first in the file.
 */
function cycles(names: readonly string[], next: ReadonlyMap<string, readonly string[]>): string[][] {
  const order = new Map(names.map((n, i) => [n, i]));
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found = new Map<string, string[]>();
  const visit = (n: string): void => {
    state.set(n, "open");
    stack.push(n);
    for (const m of next.get(n) ?? []) {
      if (state.get(m) === "open") {
        const loop = stack.slice(stack.indexOf(m));
        const first = loop.reduce((a, b, i) => (order.get(b)! < order.get(loop[a]!)! ? i : a), 0);
        const named = [...loop.slice(first), ...loop.slice(0, first)];
        named.push(named[0]!);
        found.set(named.join("\0"), named);
      } else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of names) if (!state.has(n)) visit(n);
  return [...found.values()];
}

/** Kahn's algorithm, always taking the earliest job in the file among those whose requirements are placed. */
function topological(jobs: readonly WorkflowJobSpec[]): WorkflowJobSpec[] {
  const placed = new Set<string>();
  const left = [...jobs];
  const out: WorkflowJobSpec[] = [];
  while (left.length) {
    const i = left.findIndex((j) => j.requires.every((r) => placed.has(r.job)));
    if (i < 0) throw new Error("workflow dependency cycle"); // unreachable: cycles are rejected before
    const [j] = left.splice(i, 1);
    out.push(j!);
    placed.add(j!.name);
  }
  return out;
}

function toSpec(name: string, j: ParsedJob): WorkflowJobSpec {
  const r = j.resources;
  return {
    name,
    command: j.command,
    args: j.args,
    runtime: j.runtime,
    network: j.network,
    volumes: j.volumes,
    uploads: j.uploads.files,
    maxCpu: r.max_cpu,
    maxMemory: r.max_memory,
    maxIoBps: r.max_io_bps ?? r.max_iobps ?? 0,
    cpuCores: r.cpu_cores,
    maxPids: r.max_pids,
    gpuCount: r.gpu_count,
    gpuMemoryMb: r.gpu_memory_mb,
    environment: j.environment,
    secretEnvironment: j.secret_environment,
    workDir: j.workdir,
    timeout: j.timeout,
    requires: j.requires,
  };
}

/** Reads a workflow file. Throws WorkflowError listing every problem. */
export function parseWorkflowYaml(yamlText: string): WorkflowSpec {
  const { doc, problems: yamlProblems } = parseYaml(yamlText, { merge: true });
  if (!doc) throw new WorkflowError(yamlProblems);
  keepScalarText(doc);
  const plain = toPlain(doc); // an alias expanded too many times is a problem here
  if ("problem" in plain) throw new WorkflowError([plain.problem]);
  const raw = plain.value;

  const result = workflowSchema.safeParse(raw);
  const problems = [...(result.success ? [] : issueProblems(result.error.issues)), ...graphProblems(isMapping(raw) ? raw.jobs : undefined)];
  if (problems.length || !result.success) throw new WorkflowError(problems);

  const w = result.data;
  const names = Object.keys(w.jobs);
  return {
    name: w.name || `workflow-${names.join("-")}`.slice(0, MAX_NAME), // Joblet's default, also for name: ""
    description: w.description,
    jobs: topological(Object.entries(w.jobs).map(([n, j]) => toSpec(n, j))),
  };
}

/** What the server has: every network, volume and runtime a job names must be among them. */
export function checkAvailability(
  spec: WorkflowSpec,
  available: { networks: readonly string[]; volumes: readonly string[]; runtimes: readonly string[] },
): string[] {
  // Joblet accepts a runtime by either spelling, "python-3.11" or "python:3.11".
  const runtimeKey = (s: string) => s.replaceAll(":", "-");
  const runtimes = new Set(available.runtimes.map(runtimeKey));
  const problems: string[] = [];
  for (const j of spec.jobs) {
    if (j.network && !available.networks.includes(j.network)) {
      problems.push(`jobs.${j.name}.network: network ${JSON.stringify(j.network)} does not exist on this server (available: ${available.networks.join(", ") || "none"})`);
    }
    j.volumes.forEach((v, i) => {
      if (!available.volumes.includes(v)) {
        const have = available.volumes.length ? `volumes: ${available.volumes.join(", ")}` : "no volumes exist";
        problems.push(`jobs.${j.name}.volumes[${i}]: volume ${JSON.stringify(v)} does not exist (${have})`);
      }
    });
    if (j.runtime && !runtimes.has(runtimeKey(j.runtime))) {
      const have = available.runtimes.length ? `installed: ${available.runtimes.join(", ")}` : "no runtimes are installed";
      problems.push(`jobs.${j.name}.runtime: runtime ${JSON.stringify(j.runtime)} is not installed (${have})`);
    }
  }
  return problems;
}
