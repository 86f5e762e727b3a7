// WorkflowService (our extension): the wire API over the WorkflowManager.
import type * as grpc from "@grpc/grpc-js";
import type { WorkflowInfo, WorkflowJob, WorkflowServiceServer } from "../../gen/joblet";
import type { Logger } from "../logging/logger";
import { stepState, type WorkflowManager, type WorkflowRecord } from "../workflows/workflow-manager";
import { unary } from "./calls";

function info(workflows: WorkflowManager, wf: WorkflowRecord, includeYaml = false): WorkflowInfo {
  const statuses: string[] = workflows.stepsOf(wf).map(({ step, job }) => stepState(step, job));
  const count = (...s: string[]) => statuses.filter((x) => s.includes(x)).length;
  return {
    uuid: wf.uuid,
    workflow: wf.workflow,
    name: wf.name,
    status: wf.status,
    totalJobs: wf.steps.length,
    completedJobs: count("COMPLETED"),
    failedJobs: count("FAILED", "STOPPED"),
    canceledJobs: count("CANCELED"),
    runningJobs: count("INITIALIZING", "RUNNING"),
    createdAt: wf.createdAt,
    startedAt: wf.startedAt ?? "",
    completedAt: wf.completedAt ?? "",
    yamlContent: includeYaml ? wf.yaml : "",
  };
}

function steps(workflows: WorkflowManager, wf: WorkflowRecord): WorkflowJob[] {
  return workflows.stepsOf(wf).map(({ step, job }) => {
    const dependencies = step.requires.map((r) => `${r.job}: ${r.status}`);
    // its job was deleted (rnx job delete, the retention sweep): how it ended is all that is left
    if (!job) return { jobUuid: step.uuid, jobName: step.name, status: stepState(step, job), dependencies, startTime: "", endTime: "", exitCode: 0, failureReason: "", failureMessage: "its job has been deleted" };
    // a job's record has a start time from its creation on; only one that ran has started
    // (CANCELED: it never ran, whether its requirements could not hold or the workflow was canceled)
    const ran = job.status !== "PENDING" && job.status !== "SCHEDULED" && job.status !== "CANCELED";
    return {
      jobUuid: step.uuid,
      jobName: step.name,
      status: job.status,
      dependencies,
      startTime: ran ? job.startTime : "",
      endTime: job.endTime ?? "",
      exitCode: job.exitCode ?? 0,
      failureReason: job.failureReason ?? "",
      failureMessage: job.failureMessage ?? "",
    };
  });
}

export function workflowService(workflows: WorkflowManager, log: Logger): grpc.UntypedServiceImplementation {
  const handlers: WorkflowServiceServer = {
    runWorkflow: unary(log, (req) => {
      const wf = workflows.run(req);
      return { workflowUuid: wf.uuid, status: wf.status };
    }),
    getWorkflowStatus: unary(log, (req) => {
      const wf = workflows.resolve(req.uuid);
      return { workflow: info(workflows, wf, req.includeYaml), jobs: steps(workflows, wf) };
    }),
    listWorkflows: unary(log, (req) => ({ workflows: workflows.list(req.includeCompleted).map((wf) => info(workflows, wf)) })),
    cancelWorkflow: unary(log, async (req) => {
      const wf = await workflows.cancel(req.uuid);
      return { uuid: wf.uuid, status: wf.status };
    }),
    deleteWorkflow: unary(log, (req) => {
      const { workflow: wf, jobs } = workflows.delete(req.uuid);
      return { uuid: wf.uuid, success: true, message: `deleted workflow ${wf.uuid} and its ${jobs} job${jobs === 1 ? "" : "s"}` };
    }),
  };
  return handlers;
}
