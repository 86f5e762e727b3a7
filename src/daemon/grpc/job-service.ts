// JobService: the wire API over the JobManager. Secret values never leave the daemon: responses
// carry their names with "***".
import type * as grpc from "@grpc/grpc-js";
import type { GetJobStatusResponse, Job, JobMetricsEvent } from "../../gen/joblet";
import type { Sample } from "../jobs/metrics";
import type { JobRecord } from "../jobs/job";
import type { JobManager } from "../jobs/job-manager";
import type { Logger } from "../logging/logger";
import { CHUNK_HEADROOM, encodeChunk, encodeJobs, serverJobService, type JobServiceHandlers } from "../../api/codecs";
import { invalid } from "../errors";
import { serverStream, unary } from "./calls";
import { withUnimplemented } from "./unimplemented";

const masked = (job: JobRecord) => Object.fromEntries(job.secretNames.map((n) => [n, "***"]));
const duration = (ms: number) => (ms === 0 ? "" : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

/** The fields Job and GetJobStatusResponse share. */
function common(j: JobRecord) {
  return {
    uuid: j.uuid,
    command: j.command,
    args: j.args,
    maxCpu: j.maxCpu,
    cpuCores: j.cpuCores,
    maxMemory: j.maxMemory,
    maxIoBps: j.maxIoBps,
    maxPids: j.maxPids,
    status: j.status,
    startTime: j.startTime,
    endTime: j.endTime ?? "",
    exitCode: j.exitCode ?? 0,
    scheduledTime: j.scheduledTime ?? "",
    runtime: j.runtime,
    environment: j.environment,
    secretEnvironment: masked(j),
    gpuIndices: [],
    gpuCount: j.gpuCount,
    gpuMemoryMb: j.gpuMemoryMb,
    nodeId: j.nodeId,
    name: j.name,
    failureReason: j.failureReason ?? "",
    failureMessage: j.failureMessage ?? "",
    warning: j.warning ?? "",
    cron: j.cron ?? "",
    workflowUuid: j.workflowUuid ?? "",
    scheduleUuid: j.scheduleUuid ?? "",
  };
}

export function toJob(j: JobRecord): Job {
  return common(j);
}

export function toStatus(j: JobRecord, pending = { position: 0, reason: "" }): GetJobStatusResponse {
  return {
    ...common(j),
    network: j.network,
    volumes: j.volumes,
    workDir: j.workDir,
    uploads: j.uploads,
    timeout: duration(j.timeoutMs),
    allowOverlap: j.allowOverlap ?? false,
    runs: j.runs ?? 0,
    lastRunUuid: j.lastRunUuid ?? "",
    workflowJob: j.workflowJob ?? "",
    queuePosition: pending.position,
    pendingReason: pending.reason,
  };
}

export function toMetricsEvent(uuid: string, s: Sample): JobMetricsEvent {
  return {
    timestamp: s.timestamp,
    jobUuid: uuid,
    cpuPercent: s.cpuPercent,
    memoryBytes: BigInt(s.memoryBytes),
    memoryLimit: BigInt(s.memoryLimit),
    diskReadBytes: BigInt(s.diskReadBytes),
    diskWriteBytes: BigInt(s.diskWriteBytes),
    netRecvBytes: 0n,
    netSentBytes: 0n,
    gpuPercent: 0,
    gpuMemoryBytes: 0n,
  };
}

export function jobService(jobs: JobManager, log: Logger): grpc.UntypedServiceImplementation {
  const handlers: Partial<JobServiceHandlers> = {
    runJob: unary(log, async (req) => {
      const job = await jobs.run(req);
      return { jobUuid: job.uuid, status: job.status };
    }),
    getJobStatus: unary(log, (req) => {
      const job = jobs.resolve(req.uuid);
      return toStatus(job, jobs.pendingInfo(job));
    }),
    listJobs: unary(log, () => encodeJobs(jobs.list(), toJob)),
    stopJob: unary(log, async (req) => {
      const job = await jobs.stop(req.uuid);
      return { uuid: job.uuid, status: job.status, endTime: job.endTime ?? "", exitCode: job.exitCode ?? 0 };
    }),
    cancelJob: unary(log, async (req) => {
      const job = jobs.cancel(req.uuid);
      await jobs.durable();
      return { uuid: job.uuid, status: job.status };
    }),
    deleteJob: unary(log, (req) => {
      const job = jobs.delete(req.uuid);
      return { uuid: job.uuid, success: true, message: `deleted job ${job.uuid}` };
    }),
    deleteAllJobs: unary(log, () => {
      const r = jobs.deleteAll();
      return { success: true, message: `deleted ${r.deleted} job${r.deleted === 1 ? "" : "s"}, skipped ${r.skipped} still active`, deletedCount: r.deleted, skippedCount: r.skipped };
    }),
    // both answer with bytes encoded by src/api/codecs.ts (serverJobService passes them through)
    getJobLogs: serverStream(log, async function* (req, cancelled) {
      const jobLog = jobs.logOf(req.uuid);
      for await (const payload of jobLog.follow(0, cancelled, CHUNK_HEADROOM)) yield encodeChunk(payload);
    }),
    getJobMetrics: serverStream(log, async function* (req) {
      if (req.limit < 0) throw invalid(`limit: must be 0 (every sample) or a positive number of the latest samples, got ${req.limit}`);
      const { job, samples } = await jobs.metricsHistory(req.jobUuid, { start: req.startTime, end: req.endTime, limit: req.limit });
      for (const s of samples) yield toMetricsEvent(job.uuid, s);
    }),
    streamJobMetrics: serverStream(log, async function* (req, cancelled) {
      const { job, samples } = jobs.metricsLive(req.jobUuid, cancelled);
      for await (const s of samples) yield toMetricsEvent(job.uuid, s);
    }),
  };
  return withUnimplemented(serverJobService, "job telematics", handlers as Record<string, grpc.UntypedHandleCall>);
}
