// Which workflow jobs may start, which never can, and the workflow's overall status. Pure: the
// orchestrator feeds in the jobs' current states and acts on the answer.
import type { Requirement } from "../../config/workflow-schema";

export type JobState = "PENDING" | "SCHEDULED" | "INITIALIZING" | "RUNNING" | "COMPLETED" | "FAILED" | "STOPPED" | "CANCELED";
export type WorkflowState = "PENDING" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELED";

export function isTerminal(s: JobState): boolean {
  return s === "COMPLETED" || s === "FAILED" || s === "STOPPED" || s === "CANCELED";
}

/** FINISHED is met by any terminal state; every other status only by itself. */
export function requirementMet(r: Requirement, s: JobState): boolean {
  return r.status === "FINISHED" ? isTerminal(s) : s === r.status;
}

/** The required job has ended in a state other than the one asked for: it cannot change any more. */
export function requirementImpossible(r: Requirement, s: JobState): boolean {
  return isTerminal(s) && !requirementMet(r, s);
}

export interface GraphJob {
  name: string;
  requires: Requirement[];
  status: JobState;
  /** submitted to run */
  started: boolean;
}

/**
 * `ready`: waiting jobs whose requirements are all met. `impossible`: waiting jobs that can never run,
 * because a requirement is impossible now, or names a job that is itself impossible. Such a job is
 * going to be CANCELED, so requiring it CANCELED or FINISHED stays possible: that dependent becomes
 * ready once the cancellation is recorded. Both lists are in the order of `jobs`.
 */
export function evaluate(jobs: readonly GraphJob[]): { ready: string[]; impossible: string[] } {
  const byName = new Map(jobs.map((j) => [j.name, j]));
  const waiting = jobs.filter((j) => !j.started && j.status === "PENDING");
  const impossible = new Set<string>();
  const cannotBeMet = (r: Requirement): boolean => {
    const target = byName.get(r.job);
    if (!target) return true; // parseWorkflowYaml rejects unknown jobs; a job that does not exist never ends
    return impossible.has(r.job) ? !requirementMet(r, "CANCELED") : requirementImpossible(r, target.status);
  };
  // Fixed point: each pass may make the dependents of newly impossible jobs impossible.
  for (let changed = true; changed; ) {
    changed = false;
    for (const j of waiting) {
      if (!impossible.has(j.name) && j.requires.some(cannotBeMet)) {
        impossible.add(j.name);
        changed = true;
      }
    }
  }
  const ready = waiting.filter((j) => !impossible.has(j.name) && j.requires.every((r) => requirementMet(r, byName.get(r.job)?.status ?? "PENDING")));
  return { ready: ready.map((j) => j.name), impossible: waiting.filter((j) => impossible.has(j.name)).map((j) => j.name) };
}

/**
 * While any job has not ended: RUNNING once any job has left PENDING, else PENDING. When all have
 * ended: CANCELED if the user canceled the workflow; else FAILED if any job FAILED or was STOPPED
 * (unlike Joblet, whose CANCELED came first and so hid the failure that canceled the dependents);
 * else CANCELED if any job was canceled on its own; else COMPLETED. A FAILED job still fails the
 * workflow even when a dependent asked for that (`requires: - x: FAILED`), as in Joblet: the
 * status reports what happened to the jobs, not whether the workflow's own error handling ran.
 */
export function workflowStatus(statuses: readonly JobState[], canceledByUser: boolean): WorkflowState {
  if (!statuses.every(isTerminal)) return statuses.some((s) => s !== "PENDING") ? "RUNNING" : "PENDING";
  if (canceledByUser) return "CANCELED";
  if (statuses.includes("FAILED") || statuses.includes("STOPPED")) return "FAILED";
  if (statuses.includes("CANCELED")) return "CANCELED";
  return "COMPLETED";
}
