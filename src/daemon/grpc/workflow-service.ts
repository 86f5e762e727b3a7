// WorkflowService (our extension): the wire API over the WorkflowManager.
import type * as grpc from "@grpc/grpc-js";
import type { WorkflowInfo, WorkflowJob, WorkflowServiceServer } from "../../gen/joblet";
import type { Logger } from "../logging/logger";
import type { WorkflowManager, WorkflowRecord } from "../workflows/workflow-manager";
import { unary } from "./calls";

function info(workflows: WorkflowManager, wf: WorkflowRecord, includeYaml = false): WorkflowInfo {
  const statuses = workflows.stepsOf(wf).map(({ job }) => job?.status);
  const count = (...s: string[]) => statuses.filter((x) => x !== undefined && s.includes(x)).length;
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
    const waiting = !job || job.status === "PENDING" || job.status === "SCHEDULED";
    return {
      jobUuid: step.uuid,
      jobName: step.name,
      status: job?.status ?? "DELETED",
      dependencies: step.requires.map((r) => `${r.job}: ${r.status}`),
      startTime: waiting ? "" : job.startTime,
      endTime: job?.endTime ?? "",
      exitCode: job?.exitCode ?? 0,
      failureReason: job?.failureReason ?? "",
      failureMessage: job?.failureMessage ?? "",
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
      const wf = workflows.delete(req.uuid);
      return { uuid: wf.uuid, success: true, message: `deleted workflow ${wf.uuid} and its ${wf.steps.length} job${wf.steps.length === 1 ? "" : "s"}` };
    }),
  };
  return handlers;
}
