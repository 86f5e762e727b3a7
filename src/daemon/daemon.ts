// The daemon, assembled: the job user and sandbox template, the launcher, log store and
// workspaces, the job manager, and the gRPC server in front of them.
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ServerConfig } from "../config/load";
import { initMemfd } from "../ffi/libjoblet";
import { MetricsSampler, MetricsStore } from "./jobs/metrics";
import { diskOf } from "./sandbox/cgroups/device";
import { onlineCpus } from "./sandbox/cgroups/hierarchy";
import { requireEnforceable, type Host } from "./sandbox/cgroups/limits";
import { selectDriver } from "./sandbox/cgroups/select";
import { JobManager } from "./jobs/job-manager";
import { WorkflowManager, type WorkflowRecord } from "./workflows/workflow-manager";
import type { Logger } from "./logging/logger";
import type { CgroupDriver } from "./sandbox/cgroups/driver";
import { LogStore } from "./logs/log-store";
import { Launcher } from "./sandbox/launcher";
import { SandboxTemplate } from "./sandbox/template";
import { resolveJobUser } from "./sandbox/users";
import { openSecretBox, openStateStore } from "./state/open";
import type { StateStore } from "./state/store";
import { Workspaces } from "./sandbox/workspace";
import { checkPortFree, JobletServer } from "./server";
import { HttpsEndpoint } from "./http/server";
import { AuditLog } from "./auth/audit";

/** Empty network namespaces kept ready for job starts (creating one costs about a millisecond). */
const NETNS_POOL = 8;

export class Daemon {
  private constructor(
    private readonly server: JobletServer,
    readonly jobs: JobManager,
    private readonly workflows: WorkflowManager,
    private readonly cgroups: CgroupDriver,
    private readonly state: StateStore,
    private readonly audit: AuditLog,
    private readonly sweeper: ReturnType<typeof setInterval>,
    private readonly stopGraceMs: number,
    private readonly log: Logger,
    private readonly http?: HttpsEndpoint,
  ) {}

  get port(): number {
    return this.server.port;
  }

  static async start(config: ServerConfig, log: Logger): Promise<Daemon> {
    // first: an unreadable state database stops the daemon before it touches anything
    const state = openStateStore(config.state);
    log.child("state").info("state store", { backend: state.backend, jobs: state.jobs.count(), directory: config.state.backend === "local" ? config.state.local.directory : undefined });
    const audit = new AuditLog(config.security.audit); // one for the gRPC server and the HTTPS endpoint
    try {
      return await Daemon.assemble(config, log, state, audit);
    } catch (e) {
      audit.close();
      state.close(); // releases the database's lock for the next attempt
      throw e;
    }
  }

  private static async assemble(config: ServerConfig, log: Logger, state: StateStore, audit: AuditLog): Promise<Daemon> {
    if (config.server.port !== 0) await checkPortFree(config.server.address, config.server.port);
    if (config.server.http_port !== 0) await checkPortFree(config.server.address, config.server.http_port);
    const user = resolveJobUser(config.process.default_user, config.process.default_group);
    // the mount point of every job's tmpfs root (mounted in the job's own mount namespace only)
    const rootDir = join(config.filesystem.tmpDir, "rootfs");
    mkdirSync(rootDir, { recursive: true, mode: 0o700 });
    chmodSync(config.filesystem.tmpDir, 0o700);
    const sandboxLog = log.child("sandbox");
    const template = new SandboxTemplate(config, user, rootDir, initMemfd(), sandboxLog);
    sandboxLog.info("job sandbox", {
      user: `${user.user}(${user.uid}):${user.group}(${user.gid})`,
      binds: template.mounts.binds.map((b) => b.dst).join(","),
      namespaces: config.namespaces.join(","),
    });
    const workspaces = new Workspaces(config.filesystem.baseDir, user); // creates baseDir
    const cgroupLog = log.child("cgroup");
    const cgroups = selectDriver(config.cgroup.version, config.cgroup.baseDir, `joblet-${config.server.port}`, config.cgroup.enableControllers, config.cgroup.accounting.enabled);
    const stale = await cgroups.cleanStale();
    const host: Host = { cpus: onlineCpus(), ioDevice: diskOf(config.filesystem.baseDir), driver: cgroups };
    cgroupLog.info(`cgroup driver ${cgroups.describe()}`, { staleRemoved: stale, cpus: host.cpus.length, ioDevice: host.ioDevice ?? "none" });
    const limitDefaults = {
      cpuPercent: config.joblet.defaultCpuLimit,
      memoryMb: config.joblet.defaultMemoryLimit,
      ioBps: config.joblet.defaultIoLimit,
      pids: config.joblet.defaultPidsLimit,
    };
    // Defaults the host cannot enforce are a configuration problem, found now rather than per job.
    try {
      requireEnforceable({ ...limitDefaults, cpuCores: "" }, host);
    } catch (e) {
      throw new Error(`joblet default limits: ${(e as Error).message}`);
    }
    const metricsStore = new MetricsStore(config.persist.storage.local.metrics.directory ?? "/opt/joblet/metrics");
    const jobs = new JobManager({
      cgroups,
      host,
      limitDefaults,
      metrics: config.cgroup.accounting.enabled ? new MetricsSampler(metricsStore, config.telemetry.metrics_interval) : undefined,
      metricsStore,
      store: state.jobs,
      commit: () => state.commit(),
      secrets: openSecretBox(config.state),
      maxRunning: config.joblet.maxConcurrentJobs,
      maxQueued: config.joblet.maxQueuedJobs,
      logs: new LogStore(config.persist.storage.local.logs.directory ?? "/opt/joblet/logs", { chunkSize: config.buffers.chunk_size }),
      maxLogBytes: config.joblet.maxLogSize,
      keepHistory: config.ipc.enabled,
      retention: { maxAgeMs: config.persist.retention.max_age, maxBytes: config.persist.retention.max_size },
      launcher: new Launcher(config.namespaces.includes("network") ? NETNS_POOL : 0),
      template,
      workspaces,
      log: log.child("jobs"),
      nodeId: config.server.nodeId,
      policy: {
        validateCommands: config.joblet.validateCommands,
        allowedCommands: config.joblet.allowedCommands,
        jobTimeoutMs: config.joblet.jobTimeout,
        maxUploadBytes: config.filesystem.workspace.max_upload_size,
      },
      stopGraceMs: config.joblet.cleanupTimeout,
      cleanupOnExit: config.filesystem.workspace.cleanup_on_exit,
      preserveOnFailure: config.filesystem.workspace.preserve_on_failure,
    });
    jobs.recover(); // after cleanStale: the previous daemon's jobs have ended by now
    jobs.sweep();
    jobs.resume(); // queued jobs take the free slots
    // what a workflow may name: only the "none" network, no volumes or runtimes until those land
    const workflows = new WorkflowManager(state.table<WorkflowRecord>("workflows"), jobs, () => ({ networks: ["none"], volumes: [], runtimes: [] }), log.child("workflows"));
    workflows.recover();
    const server = await JobletServer.start(config, log, { nodeId: config.server.nodeId, jobs, workflows, log: log.child("grpc") }, audit);
    let http: HttpsEndpoint | undefined;
    try {
      http = await HttpsEndpoint.start(config, log.child("http"), jobs, audit);
    } catch (e) {
      await server.stop(0);
      throw e;
    }
    const sweeper = setInterval(() => jobs.sweep(), config.persist.retention.interval);
    return new Daemon(server, jobs, workflows, cgroups, state, audit, sweeper, Math.min(config.joblet.cleanupTimeout, 5000), log, http);
  }

  /** Running jobs are stopped first (their log streams end), then the server. */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    this.workflows.close(); // steps ending now are taken up at the next start
    await this.jobs.shutdown(this.stopGraceMs);
    await this.server.stop(5000);
    await this.http?.stop(5000);
    await this.jobs.settled(); // job cgroups removed
    await this.cgroups.close().catch((e: Error) => this.log.warn("cgroup directories not removed", { error: e.message }));
    this.audit.close();
    this.state.close();
  }
}
