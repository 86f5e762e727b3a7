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
  /** ISO 8601 */
  startTime: string;
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
}
