// Workflow dependency logic: which jobs may start, which never can (and so are canceled), and the
// workflow's overall status, driven step by step as the orchestrator would.
import { describe, expect, test } from "bun:test";
import type { RequiredStatus } from "../../src/config/workflow-schema";
import { evaluate, isTerminal, requirementImpossible, requirementMet, workflowStatus, type GraphJob, type JobState } from "../../src/daemon/workflows/graph";

const ALL: JobState[] = ["PENDING", "SCHEDULED", "INITIALIZING", "RUNNING", "COMPLETED", "FAILED", "STOPPED", "CANCELED"];
const TERMINAL: JobState[] = ["COMPLETED", "FAILED", "STOPPED", "CANCELED"];

/** A workflow from `name: [requirement "job:STATUS", ...]`, every job waiting. */
function workflow(spec: Record<string, string[]>): GraphJob[] {
  return Object.entries(spec).map(([name, reqs]) => ({
    name,
    status: "PENDING",
    started: false,
    requires: reqs.map((r) => {
      const [job, status] = r.split(":") as [string, RequiredStatus];
      return { job, status };
    }),
  }));
}

/** Records a job's new state, as the orchestrator does when it starts or hears from a job. */
function set(jobs: GraphJob[], name: string, status: JobState): void {
  const j = jobs.find((x) => x.name === name)!;
  j.status = status;
  if (status !== "PENDING" && status !== "CANCELED") j.started = true; // a job canceled while waiting was never submitted
}

describe("states and single requirements", () => {
  test("terminal states", () => {
    expect(ALL.filter(isTerminal)).toEqual(TERMINAL);
  });

  test.each([
    ["COMPLETED", ["COMPLETED"]],
    ["FAILED", ["FAILED"]],
    ["STOPPED", ["STOPPED"]],
    ["CANCELED", ["CANCELED"]],
    ["FINISHED", TERMINAL],
  ] as const)("%s is met by %p only; impossible once the job ended otherwise", (status, meets) => {
    const r = { job: "x", status };
    expect(ALL.filter((s) => requirementMet(r, s))).toEqual([...meets]);
    expect(ALL.filter((s) => requirementImpossible(r, s))).toEqual(TERMINAL.filter((s) => !(meets as readonly JobState[]).includes(s)));
  });
});

describe("evaluate", () => {
  test("diamond a → b,c → d, step by step", () => {
    const jobs = workflow({ a: [], b: ["a:COMPLETED"], c: ["a:COMPLETED"], d: ["b:COMPLETED", "c:COMPLETED"] });
    expect(evaluate(jobs)).toEqual({ ready: ["a"], impossible: [] });
    set(jobs, "a", "RUNNING");
    expect(evaluate(jobs)).toEqual({ ready: [], impossible: [] });
    set(jobs, "a", "COMPLETED");
    expect(evaluate(jobs)).toEqual({ ready: ["b", "c"], impossible: [] });
    set(jobs, "b", "RUNNING");
    expect(evaluate(jobs)).toEqual({ ready: ["c"], impossible: [] });
    set(jobs, "c", "SCHEDULED");
    set(jobs, "b", "COMPLETED");
    expect(evaluate(jobs)).toEqual({ ready: [], impossible: [] }); // d waits for c
    set(jobs, "c", "COMPLETED");
    expect(evaluate(jobs)).toEqual({ ready: ["d"], impossible: [] });
    set(jobs, "d", "INITIALIZING");
    expect(evaluate(jobs)).toEqual({ ready: [], impossible: [] });
  });

  test("a started job is never ready again, even before its state changes", () => {
    const jobs = workflow({ a: [] });
    jobs[0]!.started = true;
    expect(evaluate(jobs)).toEqual({ ready: [], impossible: [] });
  });

  test("failure propagates: b needs a COMPLETED, c needs b COMPLETED; d needs b only FINISHED", () => {
    const jobs = workflow({ a: [], b: ["a:COMPLETED"], c: ["b:COMPLETED"], d: ["b:FINISHED"], e: ["c:CANCELED"] });
    set(jobs, "a", "RUNNING");
    set(jobs, "a", "FAILED");
    expect(evaluate(jobs)).toEqual({ ready: [], impossible: ["b", "c"] });
    // The orchestrator cancels b and c; d and e then run.
    set(jobs, "b", "CANCELED");
    set(jobs, "c", "CANCELED");
    expect(evaluate(jobs)).toEqual({ ready: ["d", "e"], impossible: [] });
  });

  test("impossibility is found to a fixed point, whatever the order of the jobs", () => {
    const jobs = workflow({ z: ["y:COMPLETED"], y: ["x:STOPPED"], x: ["w:COMPLETED"], w: [] });
    set(jobs, "w", "COMPLETED");
    expect(evaluate(jobs)).toEqual({ ready: ["x"], impossible: [] });
    set(jobs, "x", "COMPLETED");
    expect(evaluate(jobs)).toEqual({ ready: [], impossible: ["z", "y"] });
  });

  test("FINISHED: ready whatever the required job ended with", () => {
    for (const end of TERMINAL) {
      const jobs = workflow({ a: [], cleanup: ["a:FINISHED"] });
      set(jobs, "a", "RUNNING");
      expect(evaluate(jobs).ready).toEqual([]);
      set(jobs, "a", end);
      expect(evaluate(jobs)).toEqual({ ready: ["cleanup"], impossible: [] });
    }
  });

  test("FAILED requirement: the error handler runs only on failure", () => {
    const ok = workflow({ a: [], onError: ["a:FAILED"] });
    set(ok, "a", "COMPLETED");
    expect(evaluate(ok)).toEqual({ ready: [], impossible: ["onError"] });
    const bad = workflow({ a: [], onError: ["a:FAILED"] });
    set(bad, "a", "FAILED");
    expect(evaluate(bad)).toEqual({ ready: ["onError"], impossible: [] });
  });

  test("CANCELED requirement: met by a cancellation, impossible after any other end", () => {
    const jobs = workflow({ a: [], onCancel: ["a:CANCELED"] });
    set(jobs, "a", "RUNNING");
    expect(evaluate(jobs)).toEqual({ ready: [], impossible: [] });
    set(jobs, "a", "CANCELED");
    expect(evaluate(jobs)).toEqual({ ready: ["onCancel"], impossible: [] });

    const done = workflow({ a: [], onCancel: ["a:CANCELED"] });
    set(done, "a", "STOPPED");
    expect(evaluate(done)).toEqual({ ready: [], impossible: ["onCancel"] });
  });

  test("requiring a job that is about to be canceled: CANCELED and FINISHED wait, the rest are impossible", () => {
    const jobs = workflow({ a: [], b: ["a:COMPLETED"], canceled: ["b:CANCELED"], finished: ["b:FINISHED"], failed: ["b:FAILED"], stopped: ["b:STOPPED"] });
    set(jobs, "a", "STOPPED");
    expect(evaluate(jobs)).toEqual({ ready: [], impossible: ["b", "failed", "stopped"] });
  });

  test("a job with one impossible requirement is impossible even if the others are met", () => {
    const jobs = workflow({ a: [], b: [], c: ["a:COMPLETED", "b:COMPLETED"] });
    set(jobs, "a", "COMPLETED");
    set(jobs, "b", "FAILED");
    expect(evaluate(jobs)).toEqual({ ready: [], impossible: ["c"] });
  });

  test("a requirement on a job that does not exist is impossible", () => {
    expect(evaluate(workflow({ a: ["ghost:FINISHED"] }))).toEqual({ ready: [], impossible: ["a"] });
  });
});

describe("workflowStatus", () => {
  test.each([
    [[], false, "COMPLETED"],
    [["PENDING", "PENDING"], false, "PENDING"],
    [["PENDING", "SCHEDULED"], false, "RUNNING"],
    [["COMPLETED", "PENDING"], false, "RUNNING"],
    [["RUNNING", "FAILED"], false, "RUNNING"],
    [["RUNNING", "COMPLETED"], true, "RUNNING"], // canceled, but a job is still stopping
    [["COMPLETED", "COMPLETED"], false, "COMPLETED"],
    [["COMPLETED", "FAILED"], false, "FAILED"],
    [["COMPLETED", "STOPPED"], false, "FAILED"],
    [["FAILED", "CANCELED"], false, "FAILED"], // a failure whose dependents were canceled: the failure shows (Joblet said CANCELED)
    [["FAILED", "CANCELED"], true, "CANCELED"],
    [["COMPLETED", "CANCELED"], false, "CANCELED"],
    [["COMPLETED", "COMPLETED"], true, "CANCELED"],
    [["FAILED", "COMPLETED"], false, "FAILED"], // the FAILED was expected by a dependent: still FAILED (Joblet's rule)
  ] as const)("%p, canceled by user %p → %s", (statuses, byUser, expected) => {
    expect(workflowStatus(statuses, byUser)).toBe(expected);
  });
});
