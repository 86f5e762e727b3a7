// Workflow files (Joblet's YAML, reference §4.1): a full example parses to the exact spec, every
// problem is reported with the job and field it concerns, all at once, and never as a stack trace.
import { describe, expect, test } from "bun:test";
import { checkAvailability, parseWorkflowYaml, WorkflowError, type WorkflowJobSpec, type WorkflowSpec } from "../../src/config/workflow-schema";

/** The problems parseWorkflowYaml reports, or [] when it accepts the text. */
function problems(text: string): string[] {
  try {
    parseWorkflowYaml(text);
    return [];
  } catch (e) {
    if (!(e instanceof WorkflowError)) throw e;
    expect(e.message).toBe(e.problems.join("\n"));
    return e.problems;
  }
}

/** A job spec with every field at its default. */
const defaults = (name: string, command: string): WorkflowJobSpec => ({
  name,
  command,
  args: [],
  runtime: "",
  network: "",
  volumes: [],
  uploads: [],
  maxCpu: 0,
  maxMemory: 0,
  maxIoBps: 0,
  cpuCores: "",
  maxPids: 0,
  gpuCount: 0,
  gpuMemoryMb: 0,
  environment: {},
  secretEnvironment: {},
  workDir: "",
  timeout: "",
  requires: [],
});

const FULL = `
name: ml-pipeline
description: nightly training
version: "1.0"
jobs:
  train:
    command: python3
    args: ["train.py", --epochs, 10, true]
    runtime: python-3.11-ml
    network: none
    volumes: ["data", "models"]
    uploads: { files: ["train.py", "lib/util.py"] }
    resources: { max_cpu: 50, max_memory: 1024, max_io_bps: 10485760, cpu_cores: "0-3", max_pids: 100, gpu_count: 1, gpu_memory_mb: 8192 }
    environment: { STAGE: train, PORT: 8080, DEBUG: false }
    secret_environment: { API_KEY: x }
    workdir: /work/sub
    timeout: 30m
    description: fits the model
    requires:
      - extract: completed
      - check: FINISHED
  extract:
    command: python3
    args: ["extract.py"]
  check:
    command: ./check.sh
    requires:
      - extract: Failed
`;

describe("a valid workflow", () => {
  test("every field parses to the exact spec, jobs in topological order", () => {
    const expected: WorkflowSpec = {
      name: "ml-pipeline",
      description: "nightly training",
      jobs: [
        { ...defaults("extract", "python3"), args: ["extract.py"] },
        { ...defaults("check", "./check.sh"), requires: [{ job: "extract", status: "FAILED" }] },
        {
          name: "train",
          command: "python3",
          args: ["train.py", "--epochs", "10", "true"],
          runtime: "python-3.11-ml",
          network: "none",
          volumes: ["data", "models"],
          uploads: ["train.py", "lib/util.py"],
          maxCpu: 50,
          maxMemory: 1024,
          maxIoBps: 10485760,
          cpuCores: "0-3",
          maxPids: 100,
          gpuCount: 1,
          gpuMemoryMb: 8192,
          environment: { STAGE: "train", PORT: "8080", DEBUG: "false" },
          secretEnvironment: { API_KEY: "x" },
          workDir: "/work/sub",
          timeout: "30m",
          requires: [
            { job: "extract", status: "COMPLETED" },
            { job: "check", status: "FINISHED" },
          ],
        },
      ],
    };
    expect(parseWorkflowYaml(FULL)).toEqual(expected);
  });

  test("the default name joins the job names in file order; version is accepted", () => {
    const spec = parseWorkflowYaml("version: 2\njobs:\n  b: { command: x }\n  a: { command: y }\n");
    expect(spec.name).toBe("workflow-b-a");
    expect(spec.description).toBe("");
    expect(spec.jobs).toEqual([defaults("b", "x"), defaults("a", "y")]);
  });

  test("the default name is cut at 128 characters", () => {
    const jobs = Array.from({ length: 20 }, (_, i) => `  job-number-${i}: { command: x }`).join("\n");
    const name = parseWorkflowYaml(`jobs:\n${jobs}\n`).name;
    expect(name.length).toBe(128);
    expect(name.startsWith("workflow-job-number-0-job-number-1-")).toBe(true);
  });

  test.each([
    ["file order when nothing depends", ["a", "b", "c"], "a: {command: x}\n  b: {command: x}\n  c: {command: x}"],
    ["a job after what it requires", ["extract", "transform", "load"], "load: {command: x, requires: [transform: COMPLETED]}\n  extract: {command: x}\n  transform: {command: x, requires: [extract: COMPLETED]}"],
    ["ties keep file order", ["a", "c", "b", "d"], "d: {command: x, requires: [b: COMPLETED, c: COMPLETED]}\n  a: {command: x}\n  c: {command: x, requires: [a: COMPLETED]}\n  b: {command: x, requires: [a: COMPLETED]}"],
  ] as const)("topological order: %s", (_, order, jobs) => {
    expect(parseWorkflowYaml(`jobs:\n  ${jobs}\n`).jobs.map((j) => j.name)).toEqual([...order]);
  });

  test("numbers and booleans in args and environment keep the text as written", () => {
    const spec = parseWorkflowYaml("jobs:\n  a:\n    command: x\n    args: [1.10, 0755, True, 1e3, -0]\n    environment: { ZIP: 02134, V: 1.10 }\n    secret_environment: { N: 0x1F }\n");
    expect(spec.jobs[0]!.args).toEqual(["1.10", "0755", "True", "1e3", "-0"]);
    expect(spec.jobs[0]!.environment).toEqual({ ZIP: "02134", V: "1.10" });
    expect(spec.jobs[0]!.secretEnvironment).toEqual({ N: "0x1F" });
  });

  test("max_iobps (Joblet's client spelling) is an alias of max_io_bps; a bare core number is a CPU list", () => {
    const j = parseWorkflowYaml("jobs:\n  a: { command: x, resources: { max_iobps: 2048, cpu_cores: 2 } }\n").jobs[0]!;
    expect(j.maxIoBps).toBe(2048);
    expect(j.cpuCores).toBe("2");
  });

  test("YAML merge keys share settings between jobs", () => {
    const spec = parseWorkflowYaml("jobs:\n  a: &base { command: x, args: [one] }\n  b: { <<: *base, requires: [a: COMPLETED] }\n");
    expect(spec.jobs[1]).toEqual({ ...defaults("b", "x"), args: ["one"], requires: [{ job: "a", status: "COMPLETED" }] });
  });
});

const ONE_OF = 'one of "COMPLETED", "FAILED", "STOPPED", "CANCELED", "FINISHED" (any case)';
const JOB_KEYS = "command, args, runtime, network, volumes, uploads, resources, environment, secret_environment, workdir, timeout, description, requires";

describe("each problem names the job and field", () => {
  test.each([
    // dependencies
    ["unknown dependency", "extract: {command: x}\n  transform: {command: x, requires: [extrct: COMPLETED]}\n  load: {command: x}", 'jobs.transform.requires[0]: unknown job "extrct" (jobs: extract, transform, load)'],
    ["a job requiring itself", "a: {command: x, requires: [a: COMPLETED]}", "jobs.a.requires[0]: a job cannot require itself"],
    ["duplicate requirement", "a: {command: x}\n  b: {command: x, requires: [a: COMPLETED, a: FAILED]}", 'jobs.b.requires[1]: requires "a" again (already at requires[0])'],
    ["two-job cycle", "a: {command: x, requires: [b: COMPLETED]}\n  b: {command: x, requires: [a: COMPLETED]}", "jobs: dependency cycle: a → b → a"],
    ["three-job cycle, named from its first job in run order", "b: {command: x, requires: [a: COMPLETED]}\n  a: {command: x, requires: [c: COMPLETED]}\n  c: {command: x, requires: [b: COMPLETED]}", "jobs: dependency cycle: b → c → a → b"],
    ["bad status", "a: {command: x}\n  b: {command: x, requires: [a: DONE]}", `jobs.b.requires[0].a: expected ${ONE_OF}, got "DONE"`],
    ["empty status", "a: {command: x}\n  b: {command: x, requires: [a: ]}", `jobs.b.requires[0].a: expected ${ONE_OF}, got null (an empty value)`],
    ["requirement without a status", "a: {command: x}\n  b: {command: x, requires: [a]}", 'jobs.b.requires[0]: expected a requirement such as "- extract: COMPLETED", got "a"'],
    ["two jobs in one requirement", "a: {command: x}\n  c: {command: x}\n  b: {command: x, requires: [{a: COMPLETED, c: COMPLETED}]}", 'jobs.b.requires[0]: expected one "job: STATUS" pair per list item, got 2 (a, c); put each on its own "- " line'],
    ["requires not a list", "a: {command: x, requires: {b: COMPLETED}}", "jobs.a.requires: expected a list, got a mapping"],
    // names
    ["bad job name", "-bad: {command: x}", 'jobs: job name "-bad" must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}'],
    ["job name too long", `${"j".repeat(65)}: {command: x}`, `jobs: job name "${"j".repeat(65)}" must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}`],
    ["bad variable name", "load: {command: x, environment: {1X: a}}", 'jobs.load.environment: variable name "1X" must match [A-Za-z_][A-Za-z0-9_]*'],
    ["bad secret variable name", "load: {command: x, secret_environment: {A-B: a}}", 'jobs.load.secret_environment: variable name "A-B" must match [A-Za-z_][A-Za-z0-9_]*'],
    // values
    ["missing command", "a: {args: [x]}", "jobs.a.command: expected a program name or path (non-empty, no NUL), got nothing"],
    ["empty command", 'a: {command: " "}', 'jobs.a.command: expected a program name or path (non-empty, no NUL), got " "'],
    ["NUL in command", 'a: {command: "x\\0y"}', 'jobs.a.command: expected a program name or path (non-empty, no NUL), got "x\\u0000y"'],
    ["a list in args", "a: {command: x, args: [[1]]}", "jobs.a.args[0]: expected a string, number or true/false, got a list"],
    ["args not a list", "a: {command: x, args: run.py}", 'jobs.a.args: expected a list, got "run.py"'],
    ["a mapping as an env value", "a: {command: x, environment: {A: {b: 1}}}", "jobs.a.environment.A: expected a string, number or true/false, got a mapping"],
    ["environment not a mapping", "a: {command: x, environment: [A=1]}", "jobs.a.environment: expected a mapping of variable names to values, got a list"],
    ["absolute upload", "a: {command: x, uploads: {files: [/etc/passwd]}}", 'jobs.a.uploads.files[0]: expected a path relative to the workflow file (no leading "/", no ".."), got "/etc/passwd"'],
    ["upload outside the directory", "a: {command: x, uploads: {files: [ok.py, lib/../../x]}}", 'jobs.a.uploads.files[1]: expected a path relative to the workflow file (no leading "/", no ".."), got "lib/../../x"'],
    ["negative limit", "a: {command: x, resources: {max_memory: -1}}", "jobs.a.resources.max_memory: expected a memory limit in MB (0 = unlimited), got -1"],
    ["fractional limit", "a: {command: x, resources: {max_cpu: 1.5}}", "jobs.a.resources.max_cpu: expected a CPU limit in percent (0 = unlimited), got 1.5"],
    ["limit beyond int32", "a: {command: x, resources: {max_io_bps: 4294967296}}", "jobs.a.resources.max_io_bps: expected an I/O limit in bytes per second (0 = unlimited), got 4294967296"],
    ["both I/O spellings", "a: {command: x, resources: {max_io_bps: 1, max_iobps: 1}}", "jobs.a.resources.max_iobps: give max_io_bps or its alias max_iobps, not both"],
    ["bad CPU list", "a: {command: x, resources: {cpu_cores: all}}", 'jobs.a.resources.cpu_cores: expected a CPU list such as "0-3" or "1,3,5", got "all"'],
    ["relative workdir", "a: {command: x, workdir: sub}", 'jobs.a.workdir: expected an absolute path, got "sub"'],
    ["bad timeout", "a: {command: x, timeout: 30}", 'jobs.a.timeout: expected a duration such as "30s", "5m" or "2h", got 30'],
    ["volumes not names", "a: {command: x, volumes: [data, '']}", 'jobs.a.volumes[1]: expected a volume name, got ""'],
    // unknown keys
    ["misspelt requires", "a: {command: x}\n  b: {command: x, requries: [a: COMPLETED]}", `jobs.b.requries: unknown key "requries" (accepted: ${JOB_KEYS})`],
    ["Joblet's ignored schedule key", "a: {command: x, schedule: '2025-01-01T00:00:00Z'}", `jobs.a.schedule: unknown key "schedule" (accepted: ${JOB_KEYS})`],
    ["unknown resource", "a: {command: x, resources: {max_disk: 1}}", 'jobs.a.resources.max_disk: unknown key "max_disk" (accepted: max_cpu, max_memory, max_io_bps, max_iobps, cpu_cores, max_pids, gpu_count, gpu_memory_mb)'],
    ["unknown uploads key", "a: {command: x, uploads: {dirs: [x]}}", 'jobs.a.uploads.dirs: unknown key "dirs" (accepted: files)'],
  ] as const)("%s", (_, jobs, problem) => {
    expect(problems(`jobs:\n  ${jobs}\n`)).toEqual([problem]);
  });

  test.each([
    ["no jobs key", "name: x\n", "jobs: expected a mapping of job names to jobs, got nothing"],
    ["empty file", "", "jobs: expected a mapping of job names to jobs, got nothing"],
    ["empty jobs", "jobs: {}\n", "jobs: expected at least one job"],
    ["jobs as a list", "jobs: [a, b]\n", "jobs: expected a mapping of job names to jobs, got a list"],
    ["a list document", "- jobs\n", "(top level): expected a mapping, got a list"],
    ["unknown top-level key", "jobs: {a: {command: x}}\nenvironment: {A: b}\n", 'environment: unknown key "environment" (accepted: name, description, version, jobs)'],
    ["name too long", `name: ${"n".repeat(129)}\njobs: {a: {command: x}}\n`, `name: expected a name of at most 128 printable characters, got "${"n".repeat(129)}"`],
    ["malformed YAML", "jobs:\n  a: b: c\n", "not valid YAML: Nested mappings are not allowed in compact mappings at line 2, column 6"],
    ["duplicate job name", "jobs:\n  a: {command: x}\n  a: {command: y}\n", "not valid YAML: Map keys must be unique at line 3, column 3"],
    ["two documents", "jobs: {a: {command: x}}\n---\njobs: {}\n", "not valid YAML: Source contains multiple documents; please use YAML.parseAllDocuments() at line 2, column 1"],
  ] as const)("%s", (_, text, problem) => {
    expect(problems(text)).toEqual([problem]);
  });

  test("more than 1000 jobs", () => {
    const jobs = Array.from({ length: 1001 }, (_, i) => `  j${i}: {command: x}`).join("\n");
    expect(problems(`jobs:\n${jobs}\n`)).toEqual(["jobs: at most 1000 jobs are allowed, got 1001"]);
  });

  test("an alias bomb is a YAML problem, not a hang", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 8; i++) levels.push(`${"abcdefgh"[i]}: &${"abcdefgh"[i]} [${Array(10).fill(`*${"abcdefgh"[i - 1]}`).join(", ")}]`);
    const found = problems(`${levels.join("\n")}\njobs: {a: {command: x}}\n`);
    expect(found).toHaveLength(1);
    expect(found[0]).toStartWith("not valid YAML: ");
  });
});

describe("every problem is reported together", () => {
  test("values, unknown keys, names, dependencies and cycles in one error", () => {
    const text = `
jobs:
  extract:
    command: ""
    environment: { "1X": a, B: [1] }
  transform:
    command: t
    requries: []
    requires: [ { extrct: COMPLETED }, { load: completed }, { load: FINISHED } ]
  load:
    command: l
    requires: [ { transform: COMPLETED } ]
  bad name:
    command: x
`;
    expect(problems(text)).toEqual([
      'jobs.extract.command: expected a program name or path (non-empty, no NUL), got ""',
      'jobs.extract.environment: variable name "1X" must match [A-Za-z_][A-Za-z0-9_]*',
      "jobs.extract.environment.B: expected a string, number or true/false, got a list",
      `jobs.transform.requries: unknown key "requries" (accepted: ${JOB_KEYS})`,
      'jobs: job name "bad name" must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}',
      'jobs.transform.requires[0]: unknown job "extrct" (jobs: extract, transform, load, bad name)',
      'jobs.transform.requires[2]: requires "load" again (already at requires[1])',
      "jobs: dependency cycle: transform → load → transform",
    ]);
  });

  test("each distinct cycle is reported once", () => {
    const text = `
jobs:
  a: { command: x, requires: [b: COMPLETED] }
  b: { command: x, requires: [a: COMPLETED, c: COMPLETED] }
  c: { command: x, requires: [b: COMPLETED] }
  d: { command: x, requires: [e: COMPLETED] }
  e: { command: x, requires: [d: FINISHED] }
  f: { command: x, requires: [a: COMPLETED] }
`;
    expect(problems(text)).toEqual(["jobs: dependency cycle: a → b → a", "jobs: dependency cycle: b → c → b", "jobs: dependency cycle: d → e → d"]);
  });

  test("the error is a WorkflowError whose message lists the problems, one a line", () => {
    let caught: unknown;
    try {
      parseWorkflowYaml("jobs:\n  a: {}\n  b: {command: x, requires: [c: COMPLETED]}\n");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(WorkflowError);
    const e = caught as WorkflowError;
    expect(e.problems).toEqual(["jobs.a.command: expected a program name or path (non-empty, no NUL), got nothing", 'jobs.b.requires[0]: unknown job "c" (jobs: a, b)']);
    expect(e.message).toBe(e.problems.join("\n"));
    expect(e.name).toBe("WorkflowError");
  });
});

describe("checkAvailability", () => {
  const spec = parseWorkflowYaml(`
jobs:
  prep: { command: x }
  train: { command: x, network: bridge, volumes: [data, models], runtime: python-3.11, requires: [prep: COMPLETED] }
`);
  test("nothing exists on the server", () => {
    expect(checkAvailability(spec, { networks: [], volumes: [], runtimes: [] })).toEqual([
      'jobs.train.network: network "bridge" does not exist on this server (available: none)',
      'jobs.train.volumes[0]: volume "data" does not exist (no volumes exist)',
      'jobs.train.volumes[1]: volume "models" does not exist (no volumes exist)',
      'jobs.train.runtime: runtime "python-3.11" is not installed (no runtimes are installed)',
    ]);
  });

  test("some exist: the rest are listed", () => {
    expect(checkAvailability(spec, { networks: ["none", "isolated"], volumes: ["models"], runtimes: ["node-20"] })).toEqual([
      'jobs.train.network: network "bridge" does not exist on this server (available: none, isolated)',
      'jobs.train.volumes[0]: volume "data" does not exist (volumes: models)',
      'jobs.train.runtime: runtime "python-3.11" is not installed (installed: node-20)',
    ]);
  });

  test("all exist; a runtime matches with ':' or '-'; an empty network is the server default", () => {
    expect(checkAvailability(spec, { networks: ["bridge"], volumes: ["data", "models"], runtimes: ["python:3.11"] })).toEqual([]);
  });
});
