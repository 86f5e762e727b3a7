// The job lifecycle: submitted → (SCHEDULED | PENDING) → INITIALIZING → RUNNING → COMPLETED /
// FAILED / STOPPED, or CANCELED before it ran. Creates the workspace and log, holds jobs until
// their time (Timetable) and a free slot (RunQueue, joblet.maxConcurrentJobs), starts the
// sandbox, follows the process to its end (timeout, stop), records a truthful final state, and
// cleans up. Recurring schedules are records that launch a new job each time they are due.
import { randomUUID } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { RunJobRequest } from "../../gen/joblet";
import { parseCron } from "../../config/cron";
import { ErrnoError } from "../../ffi/libjoblet";
import { UUID_RE } from "../../config/values";
import { ApiError, invalid, notFound, precondition } from "../errors";
import type { Logger } from "../logging/logger";
import type { JobLog, LogStore } from "../logs/log-store";
import type { CgroupDriver, JobCgroup, JobLimits } from "../sandbox/cgroups/driver";
import { resolveLimits, type Host, type LimitDefaults } from "../sandbox/cgroups/limits";
import type { JobEvent, JobProcess, Launcher } from "../sandbox/launcher";
import type { SandboxTemplate } from "../sandbox/template";
import type { Workspaces } from "../sandbox/workspace";
import type { SecretBox } from "../state/secret-box";
import type { Table } from "../state/store";
import { createdOf, TERMINAL, type FailureReason, type JobRecord } from "./job";
import type { MetricsSampler, MetricsStore, Sample } from "./metrics";
import { RunQueue } from "./run-queue";
import { Timetable } from "./timetable";
import { writeUploads } from "./uploads";
import { checkRunRequest, type CheckedRun, type RunPolicy } from "./validation";

export interface JobManagerDeps {
  store: Table<JobRecord>;
  /** the state store's commit(): resolves when every staged change is durable */
  commit: () => Promise<void>;
  /** seals the secrets of jobs that wait, so they survive a restart without being stored in clear */
  secrets: SecretBox;
  logs: LogStore;
  launcher: Launcher;
  template: SandboxTemplate;
  cgroups: CgroupDriver;
  /** CPUs, the workspace disk and the driver, for checking limits */
  host: Host;
  limitDefaults: LimitDefaults;
  /** undefined: metrics off (cgroup.accounting.enabled: false) */
  metrics?: MetricsSampler;
  metricsStore: MetricsStore;
  workspaces: Workspaces;
  log: Logger;
  nodeId: string;
  policy: RunPolicy;
  /** joblet.maxConcurrentJobs and joblet.maxQueuedJobs */
  maxRunning: number;
  maxQueued: number;
  /** joblet.maxLogSize: bytes of output kept per job */
  maxLogBytes: number;
  /** joblet.cleanupTimeout: SIGTERM → SIGKILL grace, in ms */
  stopGraceMs: number;
  /** ipc.enabled: keep finished jobs' logs and metrics (history); false = live only */
  keepHistory: boolean;
  /** persist.retention: finished jobs older than maxAgeMs, or beyond maxBytes of logs and metrics
   * (oldest first), are removed by sweep(); 0 = no limit */
  retention: { maxAgeMs: number; maxBytes: number };
  /** filesystem.workspace */
  cleanupOnExit: boolean;
  preserveOnFailure: boolean;
}

/** What the manager keeps about a job while its process lives. */
interface Live {
  proc?: JobProcess;
  cgroup?: JobCgroup;
  /** settles when the final state is recorded */
  done: Promise<JobRecord>;
  stopRequested: boolean;
  /** kill() ran: SIGKILL is due to every process of the job, including one still being set up */
  killed: boolean;
  timedOut: boolean;
  shutdown: boolean;
  killTimer?: ReturnType<typeof setTimeout>;
  timeoutTimer?: ReturnType<typeof setTimeout>;
}

/** A request checked and its limits resolved: nothing is created until it is submitted. */
export interface Submission {
  checked: CheckedRun;
  limits: JobLimits;
}

/** A workflow step: held (PENDING) until its workflow releases it. */
export interface WorkflowStep {
  workflowUuid: string;
  name: string;
}

const MIN_PREFIX = 8;
/** a recurring run this late (the daemon was down at its time) is still made; older ones are skipped */
const MISSED_RUN_GRACE_MS = 60_000;

export class JobManager {
  private readonly live = new Map<string, Live>();
  private closing = false;
  /** cgroup and workspace removals still in progress */
  private readonly removals = new Set<Promise<void>>();
  private readonly watchers = new Set<(job: Readonly<JobRecord>) => void>();
  private readonly queue: RunQueue;
  private readonly timetable: Timetable;
  /** the commit of the changes staged so far, while one is due */
  private committing?: Promise<void>;

  constructor(private readonly d: JobManagerDeps) {
    this.queue = new RunQueue(d.maxRunning, d.maxQueued);
    this.timetable = new Timetable((uuid) => this.due(uuid));
  }

  /** Calls `listener` with every job whose record changed (state, warning), until the returned
   * function is called. For event streams (SSE /v1/events) and workflows. The record is the live
   * one: read it during the call, copy what is kept. */
  watch(listener: (job: Readonly<JobRecord>) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /**
   * Records a change, then tells the watchers. The write is staged: changes made in one turn of
   * the event loop share one commit (one fsync), and an answer to a client waits for it
   * (durable()). A store that cannot write (disk full) does not stop the job's lifecycle: the
   * error is logged, and a restart would find the job as last recorded and end it as DAEMON_RESTART.
   */
  private save(job: JobRecord): void {
    try {
      this.d.store.stage(job);
      this.committing ??= this.d
        .commit()
        .catch((e: Error) => this.d.log.error("job state not recorded", { error: e.message }))
        .finally(() => (this.committing = undefined));
    } catch (e) {
      this.d.log.error("job state not recorded", { job: job.uuid, status: job.status, error: (e as Error).message });
    }
    for (const w of this.watchers) w(job);
  }

  /** Resolves once every change recorded so far is on disk (or failed to get there, which save() logged). */
  async durable(): Promise<void> {
    await this.d.commit().catch(() => undefined);
  }

  /** Checks a request without creating anything (INVALID_ARGUMENT / FAILED_PRECONDITION). */
  check(req: RunJobRequest): Submission {
    return { checked: checkRunRequest(req, this.d.policy), limits: resolveLimits(req, this.d.limitDefaults, this.d.host) };
  }

  /**
   * RunJob: a job that can start now is started, and the answer waits until it runs (or failed
   * to start). Otherwise it is recorded and the answer is at once: SCHEDULED (a time or a cron
   * expression) or PENDING (every slot taken; RESOURCE_EXHAUSTED when the queue is full too).
   */
  async run(req: RunJobRequest): Promise<JobRecord> {
    this.open();
    const received = performance.now();
    const sub = this.check(req);
    const { checked } = sub;
    if (checked.cron || (checked.scheduledAt !== undefined && checked.scheduledAt > Date.now())) {
      const job = this.create(sub, "SCHEDULED");
      if (TERMINAL.has(job.status)) return job; // its workspace could not be made
      this.timetable.at(job.uuid, Date.parse(job.scheduledTime!));
      this.d.log.info("job scheduled", { job: job.uuid, at: job.scheduledTime, cron: job.cron });
      return this.answer(job);
    }
    if (this.queue.tryStart()) {
      // the hot path: the workspace is made off the event loop, beside the job's log and cgroups
      const job = this.record(sub, "INITIALIZING");
      const workspace = this.d.workspaces.make(job.uuid).then((work) => {
        if (checked.uploads.length) writeUploads(work, checked.uploads, this.d.template.user);
      });
      return this.answer(await this.launch(job, checked.secrets, received, workspace));
    }
    if (this.queue.full) {
      throw new ApiError("RESOURCE_EXHAUSTED", `${this.queue.active} jobs are running (joblet.maxConcurrentJobs) and ${this.queue.queued} are waiting (joblet.maxQueuedJobs); try again later`);
    }
    const job = this.create(sub, "PENDING");
    if (!TERMINAL.has(job.status)) this.queue.enqueue(job.uuid);
    return this.answer(job);
  }

  /** `job` once what it says is on disk: a client is told nothing a crash could take back. */
  private async answer(job: JobRecord): Promise<JobRecord> {
    await this.durable();
    return job;
  }

  /** A workflow step: recorded PENDING and held until release(). */
  submitStep(sub: Submission, step: WorkflowStep): JobRecord {
    this.open();
    return this.create(sub, "PENDING", step);
  }

  /** A held workflow step may run now: it starts when a slot is free (the queue bound does not apply). */
  releaseStep(uuid: string): void {
    if (this.closing) return; // it stays held: the next start releases it
    const job = this.d.store.get(uuid);
    if (!job || job.status !== "PENDING" || !job.held) return;
    delete job.held;
    this.save(job);
    this.admit(job);
  }

  private open(): void {
    if (this.closing) throw new ApiError("UNAVAILABLE", "the daemon is shutting down");
  }

  /**
   * The job's record and workspace (with its uploads). A job that will not start at once keeps
   * its secrets sealed in its record. When the workspace cannot be made the job is FAILED
   * (SETUP_FAILED) at once.
   */
  private create(sub: Submission, status: JobRecord["status"], step?: WorkflowStep): JobRecord {
    const job = this.record(sub, status, step);
    try {
      writeUploads(this.d.workspaces.create(job.uuid), sub.checked.uploads, this.d.template.user);
    } catch (e) {
      return this.setupFailed(job, e);
    }
    return job;
  }

  /** The record of a new job, saved. */
  private record({ checked, limits }: Submission, status: JobRecord["status"], step?: WorkflowStep): JobRecord {
    const now = new Date().toISOString();
    const deferred = status !== "INITIALIZING";
    const job: JobRecord = {
      uuid: randomUUID(),
      name: checked.name,
      command: checked.command,
      args: checked.args,
      maxCpu: limits.cpuPercent,
      cpuCores: limits.cpuCores,
      maxMemory: limits.memoryMb,
      maxIoBps: limits.ioBps,
      maxPids: limits.pids,
      network: "none",
      volumes: [],
      runtime: "",
      workDir: checked.workDir,
      environment: checked.env,
      secretNames: Object.keys(checked.secrets),
      uploads: checked.uploads.map((u) => u.path),
      gpuCount: 0,
      gpuMemoryMb: 0,
      status,
      startTime: now,
      createdTime: now,
      timeoutMs: checked.timeoutMs,
      nodeId: this.d.nodeId,
    };
    if (checked.cron) {
      job.cron = checked.cron.source;
      job.allowOverlap = checked.allowOverlap;
      job.runs = 0;
      job.scheduledTime = checked.cron.next(new Date())!.toISOString();
    } else if (checked.scheduledAt !== undefined) {
      job.scheduledTime = new Date(checked.scheduledAt).toISOString();
    }
    if (step) Object.assign(job, { workflowUuid: step.workflowUuid, workflowJob: step.name, held: true });
    if (deferred && job.secretNames.length) job.sealedSecrets = this.d.secrets.seal(checked.secrets);
    this.save(job);
    return job;
  }

  private setupFailed(job: JobRecord, e: unknown): JobRecord {
    const message = e instanceof ErrnoError || e instanceof Error ? e.message : String(e);
    this.d.log.error("job setup failed", { job: job.uuid, error: message });
    return this.finish(job, undefined, { status: "FAILED", exitCode: -1, failureReason: "SETUP_FAILED", failureMessage: message });
  }

  /** A job whose time has come, or a released workflow step: start it, or queue it for a slot. */
  private admit(job: JobRecord): void {
    if (this.closing) return; // recorded as it is: the next start takes it up
    if (this.queue.tryStart()) {
      this.startDeferred(job);
      return;
    }
    if (job.status !== "PENDING") {
      job.status = "PENDING";
      this.save(job);
    }
    this.queue.enqueue(job.uuid);
  }

  /** Queued jobs take the slots that are free. */
  private pump(): void {
    if (this.closing) return;
    for (let uuid = this.queue.next(); uuid; uuid = this.queue.next()) {
      const job = this.d.store.get(uuid);
      if (job?.status === "PENDING") this.startDeferred(job);
      else this.queue.release(); // canceled meanwhile
    }
  }

  /** Starts a recorded job (a slot is taken for it): its secrets are unsealed and dropped from the record. */
  private startDeferred(job: JobRecord): void {
    let secrets: Record<string, string> = {};
    try {
      if (job.sealedSecrets) secrets = this.d.secrets.open(job.sealedSecrets);
    } catch (e) {
      this.queue.release();
      this.setupFailed(job, new Error(`its secret environment cannot be unsealed (${(e as Error).message}); was the state directory's secrets.key replaced?`));
      this.pump();
      return;
    }
    delete job.sealedSecrets;
    job.status = "INITIALIZING";
    job.startTime = new Date().toISOString();
    this.save(job);
    this.launch(job, secrets, performance.now()).catch((e: Error) => this.d.log.error("job start failed", { job: job.uuid, error: e.message }));
  }

  /** The timetable says `uuid` is due: a one-shot job starts; a recurring schedule launches a run. */
  private due(uuid: string): void {
    const job = this.d.store.get(uuid);
    if (!job || job.status !== "SCHEDULED" || this.closing) return;
    if (job.cron) this.launchRun(job);
    else this.admit(job);
  }

  /** A recurring schedule's run: a new job with the schedule's command, limits, secrets and files. */
  private launchRun(schedule: JobRecord): void {
    const now = new Date();
    const previous = schedule.lastRunUuid ? this.d.store.get(schedule.lastRunUuid) : undefined;
    if (previous && !TERMINAL.has(previous.status) && !schedule.allowOverlap) {
      this.d.log.info("recurring run skipped: the previous run is still active", { schedule: schedule.uuid, previous: previous.uuid });
    } else {
      const created = now.toISOString();
      const run: JobRecord = {
        ...structuredClone(schedule),
        uuid: randomUUID(),
        status: "INITIALIZING",
        startTime: created,
        createdTime: created,
        scheduleUuid: schedule.uuid,
      };
      for (const k of ["cron", "allowOverlap", "runs", "lastRunUuid", "warning"] as const) delete run[k];
      this.save(run);
      schedule.runs = (schedule.runs ?? 0) + 1;
      schedule.lastRunUuid = run.uuid;
      try {
        this.d.workspaces.copy(schedule.uuid, run.uuid);
        this.admit(run);
      } catch (e) {
        this.setupFailed(run, e);
      }
    }
    this.reschedule(schedule, now);
  }

  /** Moves a recurring schedule to its next time after `after`; one that never matches again ends COMPLETED. */
  private reschedule(schedule: JobRecord, after: Date): void {
    const next = parseCron(schedule.cron!).next(after);
    if (!next) {
      this.finish(schedule, undefined, { status: "COMPLETED", exitCode: 0 });
      return;
    }
    schedule.scheduledTime = next.toISOString();
    this.save(schedule);
    this.timetable.at(schedule.uuid, next.getTime());
  }

  /**
   * Starts the sandbox of a recorded job (a slot is taken for it); resolves once it runs (or
   * failed to start) with its record. `workspace` settles when the job's workspace is ready.
   */
  private async launch(job: JobRecord, secrets: Record<string, string>, received: number, workspace: Promise<void> = Promise.resolve()): Promise<JobRecord> {
    const uuid = job.uuid;
    let settle!: (j: JobRecord) => void;
    const live: Live = { done: new Promise((r) => (settle = r)), stopRequested: false, killed: false, timedOut: false, shutdown: false };
    this.live.set(uuid, live);

    // Every step waits off the event loop (file creation, the kernel's cgroup lock, the child
    // building its sandbox), and the workspace, log and cgroups are made at the same time.
    let proc: JobProcess;
    let logFile: FileHandle | undefined;
    try {
      const limits: JobLimits = { cpuPercent: job.maxCpu, cpuCores: job.cpuCores, memoryMb: job.maxMemory, ioBps: job.maxIoBps, pids: job.maxPids };
      const [ready, log, cgroup] = await Promise.allSettled([workspace, this.d.logs.create(uuid), this.d.cgroups.create(uuid, limits, this.d.host.ioDevice)]);
      if (log.status === "fulfilled") logFile = log.value.file;
      if (cgroup.status === "fulfilled") live.cgroup = cgroup.value; // removed by finish() whatever else failed
      for (const r of [ready, log, cgroup]) if (r.status === "rejected") throw r.reason;
      const spec = this.d.template.specFor({ uuid, argv: [job.command, ...job.args], env: { ...job.environment, ...secrets }, workspace: this.d.workspaces.path(uuid), cwd: job.workDir });
      // the job is in its cgroups before it runs anything: born in the v2 one, joining v1 first thing
      const sandbox = { ...spec, cgroupProcs: live.cgroup!.procsFiles, cgroupFd: live.cgroup!.dirFd, logFd: logFile!.fd, logLimit: this.d.maxLogBytes };
      proc = await this.d.launcher.launch(sandbox, (e) => this.onEvent(job, e));
    } catch (e) {
      const message = e instanceof ErrnoError || e instanceof Error ? e.message : String(e);
      this.d.log.error("job setup failed", { job: uuid, error: message });
      const failed = this.finish(job, live, { status: "FAILED", exitCode: -1, failureReason: "SETUP_FAILED", failureMessage: message });
      settle(failed);
      return failed;
    } finally {
      await logFile?.close(); // the job's init holds its own copy
    }
    live.proc = proc;
    // asked while it was being set up: a grace period that already ran out (the job's start took
    // longer than joblet.cleanupTimeout) killed nothing, since there was no process yet
    if (live.killed) this.kill(live);
    else if (live.stopRequested) proc.signal("SIGTERM");
    this.d.metrics?.watch(uuid, live.cgroup!);
    // the time limit counts from now: a start held up inside the sandbox (an exec throttled by a
    // tiny max_io_bps) is a start that takes too long, not one that never ends
    if (job.timeoutMs > 0) {
      live.timeoutTimer = setTimeout(() => {
        live.timedOut = true;
        this.d.log.info("job timed out", { job: uuid, timeoutMs: job.timeoutMs });
        this.kill(live);
      }, job.timeoutMs);
    }
    const failure = await proc.started;
    if (failure) {
      job.failureReason = failure.reason;
      job.failureMessage = failure.message;
      this.d.log.info("job failed to start", { job: uuid, reason: failure.reason, message: failure.message });
    } else {
      job.status = "RUNNING";
      this.save(job);
      // startMs: request received (or the job's turn come) → the command exec'd (the benchmark reads it)
      this.d.log.info("job started", { job: uuid, pid: proc.pid, command: job.command, startMs: Number((performance.now() - received).toFixed(3)) });
    }
    const done = this.follow(job, live, proc).then((j) => {
      settle(j);
      return j;
    });
    if (failure) return done; // it exits at once; answer with its final state
    return this.d.store.get(uuid) ?? job;
  }

  /** Waits for the process and its output, then records how it ended. */
  private async follow(job: JobRecord, live: Live, proc: JobProcess): Promise<JobRecord> {
    const status = await proc.exited;
    // init wrote the whole output before it exited; its last reports (log events) follow at once
    await proc.reported;
    clearTimeout(live.timeoutTimer);
    clearTimeout(live.killTimer);
    let reason: FailureReason | undefined = job.failureReason;
    let message = job.failureMessage;
    let final: JobRecord["status"] = status === 0 && !reason ? "COMPLETED" : "FAILED";
    const oom = (await live.cgroup?.oomKilled()) ?? false;
    if (oom && !live.stopRequested && !live.shutdown) {
      final = "FAILED";
      reason = "OOM_KILLED";
      message = `killed by the kernel: the job reached its memory limit of ${job.maxMemory} MB`;
    } else if (live.shutdown) {
      final = "FAILED";
      reason = "DAEMON_SHUTDOWN";
      message = "the daemon stopped while the job was running";
    } else if (live.timedOut) {
      final = "FAILED";
      reason = "TIMEOUT";
      message = `killed after the time limit of ${job.timeoutMs / 1000}s`;
    } else if (live.stopRequested) {
      final = "STOPPED";
    }
    return this.finish(job, live, { status: final, exitCode: status, failureReason: reason, failureMessage: message });
  }

  /** Records how a job ended and frees what it held; `live` is undefined for a job that never started. */
  private finish(job: JobRecord, live: Live | undefined, end: Pick<JobRecord, "status" | "exitCode" | "failureReason" | "failureMessage">): JobRecord {
    Object.assign(job, end, { endTime: new Date().toISOString() });
    delete job.sealedSecrets;
    delete job.held;
    const sampled = this.d.metrics?.unwatch(job.uuid) ?? Promise.resolve(); // one last sample before the cgroup goes
    this.save(job); // the final state is visible before followers see the end of the log
    this.d.logs.finished(job.uuid);
    if (live) {
      this.live.delete(job.uuid);
      this.queue.release();
      this.pump();
    }
    const cgroup = live?.cgroup;
    if (cgroup) this.track(sampled.then(() => cgroup.remove()).catch((e: Error) => this.d.log.warn("job cgroup not removed", { job: job.uuid, error: e.message })));
    this.release(job);
    this.d.log.info("job ended", { job: job.uuid, status: job.status, exitCode: job.exitCode, reason: job.failureReason });
    return job;
  }

  /** What an ended job no longer needs: its workspace (filesystem.workspace rules) and, when log
   * history is off, its log and metrics (followers still reading hold the file open). */
  private release(job: JobRecord): void {
    if (this.d.cleanupOnExit && !(job.status === "FAILED" && this.d.preserveOnFailure)) {
      this.track(this.d.workspaces.discard(job.uuid).catch((e: Error) => this.d.log.warn("job workspace not removed", { job: job.uuid, error: e.message })));
    }
    if (!this.d.keepHistory) {
      this.d.logs.remove(job.uuid);
      this.d.metricsStore.remove(job.uuid);
    }
  }

  /** Log trouble goes into the job's record (status shows it) and the daemon's log, once. */
  private onEvent(job: JobRecord, e: JobEvent): void {
    if (e.kind === "ORPHANED") return; // only a dead daemon's jobs see it
    job.warning =
      e.kind === "LOG_TRUNCATED"
        ? `output exceeded joblet.maxLogSize (${this.d.maxLogBytes} bytes); the rest was discarded`
        : `the log could not be written (${e.message}); output from then on was discarded`;
    if (e.kind === "LOG_FAILED") this.d.log.error("job log write failed", { job: job.uuid, error: e.message });
    else this.d.log.warn("job log truncated", { job: job.uuid, maxLogSize: this.d.maxLogBytes });
    this.save(job);
  }

  /**
   * At start, before serving. The previous daemon's jobs that were still running ended with it
   * (their init killed them and wrote their output to the log when the lifeline broke; the cgroup
   * driver killed any leftover): they become FAILED with DAEMON_RESTART. Jobs that had not started
   * wait again: scheduled ones for their time (a time passed while the daemon was down runs now,
   * with a warning; a recurring schedule skips runs missed by more than a minute), queued ones in
   * their order. Held workflow steps wait for their workflow. Workspaces, logs and metrics that
   * belong to no job are removed.
   */
  recover(): { failed: number; waiting: number; orphans: number } {
    let failed = 0;
    const known = new Set<string>();
    const queued: JobRecord[] = [];
    const now = Date.now();
    let waiting = 0;
    for (const job of this.d.store.list()) {
      known.add(job.uuid);
      if (job.status === "SCHEDULED") {
        const at = Date.parse(job.scheduledTime ?? "");
        if (job.cron && now - at > MISSED_RUN_GRACE_MS) {
          this.d.log.warn("recurring runs missed while the daemon was down", { schedule: job.uuid, due: job.scheduledTime });
          this.reschedule(job, new Date(now));
        } else {
          if (!job.cron && now - at > MISSED_RUN_GRACE_MS) {
            job.warning = `started late: the daemon was not running at its scheduled time ${job.scheduledTime}`;
            this.save(job);
          }
          this.timetable.at(job.uuid, Number.isNaN(at) ? now : at);
        }
        waiting++;
        continue;
      }
      if (job.status === "PENDING") {
        if (!job.held) queued.push(job);
        waiting++;
        continue;
      }
      if (job.status !== "RUNNING" && job.status !== "INITIALIZING") continue;
      Object.assign(job, {
        status: "FAILED",
        exitCode: -1,
        endTime: new Date().toISOString(),
        failureReason: "DAEMON_RESTART",
        failureMessage: "the daemon stopped while the job was running (crash, kill or host restart); the job was killed, and its output up to then is in its log",
      } satisfies Partial<JobRecord>);
      this.save(job);
      this.release(job);
      failed++;
    }
    for (const job of queued.sort((a, b) => createdOf(a).localeCompare(createdOf(b)))) this.queue.enqueue(job.uuid);
    let orphans = 0;
    const removeOrphans = (uuids: string[], remove: (uuid: string) => void) => {
      for (const uuid of uuids.filter((u) => UUID_RE.test(u) && !known.has(u))) {
        remove(uuid);
        orphans++;
      }
    };
    removeOrphans(this.d.workspaces.stored(), (u) => this.d.workspaces.remove(u));
    removeOrphans(this.d.logs.files.uuids(), (u) => this.d.logs.remove(u));
    removeOrphans(this.d.metricsStore.files.uuids(), (u) => this.d.metricsStore.remove(u));
    if (failed || orphans || waiting) this.d.log.info("recovered from the previous run", { failed, waiting, orphansRemoved: orphans });
    return { failed, waiting, orphans };
  }

  /** After recover(): queued jobs take the free slots. */
  resume(): void {
    this.pump();
  }

  /** Removes finished jobs (record, log, metrics, workspace) beyond persist.retention; returns how many. */
  sweep(now = Date.now()): number {
    const { maxAgeMs, maxBytes } = this.d.retention;
    const all = this.d.store.scan();
    // a workflow still running keeps its finished steps: its status and its user still need them
    const busy = new Set(all.filter((j) => j.workflowUuid && !TERMINAL.has(j.status)).map((j) => j.workflowUuid));
    const done = all
      .filter((j) => TERMINAL.has(j.status) && !(j.workflowUuid && busy.has(j.workflowUuid)))
      .sort((a, b) => (a.endTime ?? a.startTime).localeCompare(b.endTime ?? b.startTime)); // oldest first
    const gone: Readonly<JobRecord>[] = [];
    let total = 0;
    const sizes = done.map((j) => this.d.logs.files.size(j.uuid) + this.d.metricsStore.files.size(j.uuid));
    for (const s of sizes) total += s;
    done.forEach((job, i) => {
      const ended = Date.parse(job.endTime ?? job.startTime);
      if ((maxAgeMs > 0 && now - ended > maxAgeMs) || (maxBytes > 0 && total > maxBytes)) {
        total -= sizes[i]!;
        gone.push(job);
      }
    });
    for (const job of gone) this.remove(job);
    if (gone.length) this.d.log.info("retention sweep", { removed: gone.length, keptBytes: total });
    return gone.length;
  }

  /** A job by its full uuid, or undefined. */
  get(uuid: string): JobRecord | undefined {
    return this.d.store.get(uuid);
  }

  /** A job by uuid or by a unique prefix of at least 8 characters. */
  resolve(id: string): JobRecord {
    const exact = this.d.store.get(id);
    if (exact) return exact;
    if (!id) throw invalid("uuid: a job id is required");
    if (id.length < MIN_PREFIX) throw invalid(`uuid: "${id}" is too short; give the full uuid or at least ${MIN_PREFIX} characters of it`);
    const matches = this.d.store.scan().filter((j) => j.uuid.startsWith(id.toLowerCase()));
    if (matches.length === 1) return structuredClone(matches[0]!) as JobRecord;
    if (matches.length > 1) throw invalid(`uuid: "${id}" matches ${matches.length} jobs (${matches.map((j) => j.uuid).join(", ")}); give more characters`);
    throw notFound(`job ${id} not found`);
  }

  /** Every job, oldest first, as read-only views (no copies: ListJobs over thousands of jobs). */
  list(): Readonly<JobRecord>[] {
    return this.d.store.scan().sort((a, b) => {
      const x = createdOf(a);
      const y = createdOf(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
  }

  /** Where a PENDING job stands: its place in the run queue (0 = not queued) and why it waits. */
  pendingInfo(job: Readonly<JobRecord>): { position: number; reason: string } {
    if (job.status !== "PENDING") return { position: 0, reason: "" };
    if (job.held) return { position: 0, reason: `waiting for the requirements of workflow ${job.workflowUuid}` };
    const position = this.queue.position(job.uuid);
    return { position, reason: `waiting for a free slot: ${this.queue.active} of ${this.queue.maxRunning} running (joblet.maxConcurrentJobs)` };
  }

  /** The job's log (for GetJobLogs); NOT_FOUND if it has none. */
  logOf(id: string): JobLog {
    const job = this.resolve(id);
    const recurring = job.cron ? ` (a recurring schedule: each run is a job of its own; the latest is ${job.lastRunUuid ?? "not launched yet"})` : "";
    if (job.status === "SCHEDULED" || job.status === "PENDING") throw precondition(`job ${job.uuid} is ${job.status}${recurring}; its log starts when it runs`);
    const log = this.d.logs.get(job.uuid);
    if (log) return log;
    if (recurring || job.status === "CANCELED") throw notFound(`job ${job.uuid} has no log: it was canceled before it ran${recurring}`);
    throw notFound(this.d.keepHistory ? `job ${job.uuid} has no log` : `job ${job.uuid} has ended and log history is off (ipc.enabled: false): logs can only be followed while a job runs`);
  }

  /** SIGTERM to every process of the job, SIGKILL after the grace period; resolves when it ended. */
  async stop(id: string): Promise<JobRecord> {
    const job = this.resolve(id);
    if (job.status === "SCHEDULED" || job.status === "PENDING") return this.answer(this.cancel(id)); // as Joblet: stopping a job that has not started cancels it
    const live = this.live.get(job.uuid);
    if (TERMINAL.has(job.status) || !live) throw precondition(`job ${job.uuid} is ${job.status}; only a running job can be stopped`);
    this.terminate(live, this.d.stopGraceMs);
    return this.answer(await live.done);
  }

  private terminate(live: Live, graceMs: number): void {
    if (!live.stopRequested) {
      live.stopRequested = true;
      live.proc?.signal("SIGTERM");
      live.killTimer = setTimeout(() => this.kill(live), graceMs);
    }
  }

  /** Everything of the job at once: its init (and so its pid namespace) and its cgroups. */
  private kill(live: Live): void {
    live.killed = true;
    live.proc?.signal("SIGKILL");
    try {
      live.cgroup?.kill();
    } catch (e) {
      this.d.log.warn("cgroup kill failed", { error: (e as Error).message });
    }
  }

  /** A job that has not started (SCHEDULED, PENDING, or a recurring schedule) becomes CANCELED. */
  cancel(id: string, message = "canceled by request"): JobRecord {
    const job = this.resolve(id);
    if (job.status !== "SCHEDULED" && job.status !== "PENDING") {
      throw precondition(`job ${job.uuid} is ${job.status}; only a SCHEDULED or PENDING job can be canceled${job.status === "RUNNING" || job.status === "INITIALIZING" ? " (use stop for a running job)" : ""}`);
    }
    this.timetable.remove(job.uuid);
    this.queue.remove(job.uuid);
    this.d.log.info("job canceled", { job: job.uuid, message });
    return this.finish(job, undefined, { status: "CANCELED", exitCode: 0, failureMessage: message });
  }

  delete(id: string): JobRecord {
    const job = this.resolve(id);
    if (!TERMINAL.has(job.status)) throw precondition(`job ${job.uuid} is ${job.status}; ${job.status === "SCHEDULED" || job.status === "PENDING" ? "cancel" : "stop"} it before deleting it`);
    this.remove(job);
    return job;
  }

  deleteAll(): { deleted: number; skipped: number } {
    let deleted = 0;
    let skipped = 0;
    for (const job of this.d.store.list()) {
      if (TERMINAL.has(job.status)) {
        this.remove(job);
        deleted++;
      } else skipped++;
    }
    return { deleted, skipped };
  }

  /** Stored samples of a job (GetJobMetrics). */
  async metricsHistory(id: string, opts: { start?: bigint; end?: bigint; limit?: number }): Promise<{ job: JobRecord; samples: Sample[] }> {
    const job = this.resolve(id);
    return { job, samples: await this.d.metricsStore.history(job.uuid, opts) };
  }

  /** New samples of a running job until it ends (StreamJobMetrics); nothing for a finished one. */
  metricsLive(id: string, stop: () => boolean): { job: JobRecord; samples: AsyncGenerator<Sample> } {
    const job = this.resolve(id);
    const live = this.live.has(job.uuid);
    async function* none(): AsyncGenerator<Sample> {}
    return { job, samples: live ? this.d.metricsStore.follow(job.uuid, stop) : none() };
  }

  private remove(job: Readonly<JobRecord>): void {
    this.d.metricsStore.remove(job.uuid);
    this.d.logs.remove(job.uuid);
    this.d.workspaces.remove(job.uuid);
    this.d.store.delete(job.uuid);
  }

  /** A removal still in progress, for settled(). */
  private track(removal: Promise<void>): void {
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal));
  }

  /** Resolves once every finished job's cgroups and workspace are removed. */
  async settled(): Promise<void> {
    await Promise.all([...this.removals]);
  }

  /** Stops every running job (SIGTERM, then SIGKILL after `graceMs`) and waits for them. */
  async shutdown(graceMs: number): Promise<void> {
    this.closing = true;
    this.timetable.stop(); // scheduled and queued jobs stay recorded for the next start
    const all = [...this.live.values()];
    for (const live of all) {
      live.shutdown = true;
      this.terminate(live, graceMs);
    }
    await Promise.all(all.map((l) => l.done));
  }
}
