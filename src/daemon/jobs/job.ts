// A job as the daemon records it. Secret values are not part of it: they live only as long as
// it takes to start the process; the record keeps their names.

export type JobStatus = "INITIALIZING" | "PENDING" | "SCHEDULED" | "RUNNING" | "COMPLETED" | "FAILED" | "STOPPED" | "CANCELED";

export const TERMINAL: ReadonlySet<JobStatus> = new Set(["COMPLETED", "FAILED", "STOPPED", "CANCELED"]);

/** Why a job failed, when its exit code alone does not say (failure_reason in the API). */
export type FailureReason = "EXEC_FAILED" | "SETUP_FAILED" | "TIMEOUT" | "OOM_KILLED" | "DAEMON_SHUTDOWN" | "DAEMON_RESTART";

export interface JobRecord {
  uuid: string;
  name: string;
  command: string;
  args: string[];
  maxCpu: number;
  cpuCores: string;
  maxMemory: number;
  maxIoBps: number;
  maxPids: number;
  network: string;
  volumes: string[];
  runtime: string;
  workDir: string;
  environment: Record<string, string>;
  /** names of the secret variables (their values are never stored) */
  secretNames: string[];
  uploads: string[];
  gpuCount: number;
  gpuMemoryMb: number;
  status: JobStatus;
  /** ISO 8601: when it started running; until then, when it was submitted */
  startTime: string;
  /** ISO 8601: when it was submitted (records from before this field: startTime) */
  createdTime?: string;
  endTime?: string;
  exitCode?: number;
  scheduledTime?: string;
  failureReason?: FailureReason;
  failureMessage?: string;
  /** something the user should know that did not fail the job (e.g. output discarded: disk full) */
  warning?: string;
  /** wall-clock limit in ms (0 = none) */
  timeoutMs: number;
  nodeId: string;
  /** a recurring schedule: its cron expression. Such a record never runs itself: each time it
   * is due it launches a new job (scheduleUuid = its uuid) and moves scheduledTime on. */
  cron?: string;
  /** recurring: launch even while the previous run is still active */
  allowOverlap?: boolean;
  /** recurring: jobs launched so far, and the latest */
  runs?: number;
  lastRunUuid?: string;
  /** the recurring schedule that launched this job */
  scheduleUuid?: string;
  /** a workflow step: the workflow and the step's name in it */
  workflowUuid?: string;
  workflowJob?: string;
  /** PENDING until its workflow releases it (requirements hold); not in the run queue meanwhile */
  held?: boolean;
  /** the secret values of a job that has not started yet, sealed (state/secret-box.ts) */
  sealedSecrets?: string;
}

/** When a job entered the system, for ordering (FIFO queue, listing). */
export const createdOf = (j: Readonly<JobRecord>): string => j.createdTime ?? j.startTime;
