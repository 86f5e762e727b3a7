// The daemon, assembled: the job user and sandbox template, the launcher, log store and
// workspaces, the job manager, and the gRPC server in front of them.
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ServerConfig } from "../config/load";
import { initMemfd } from "../ffi/libjoblet";
import { MemoryJobStore } from "./jobs/job";
import { JobManager } from "./jobs/job-manager";
import type { Logger } from "./logging/logger";
import { LogStore } from "./logs/log-store";
import { Launcher } from "./sandbox/launcher";
import { SandboxTemplate } from "./sandbox/template";
import { resolveJobUser } from "./sandbox/users";
import { Workspaces } from "./sandbox/workspace";
import { JobletServer } from "./server";

/** Empty network namespaces kept ready for job starts (creating one costs about a millisecond). */
const NETNS_POOL = 8;

export class Daemon {
  private constructor(
    private readonly server: JobletServer,
    readonly jobs: JobManager,
    private readonly stopGraceMs: number,
  ) {}

  get port(): number {
    return this.server.port;
  }

  static async start(config: ServerConfig, log: Logger): Promise<Daemon> {
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
    const jobs = new JobManager({
      store: new MemoryJobStore(),
      logs: new LogStore(config.persist.storage.local.logs.directory ?? "/opt/joblet/logs", { maxBytes: config.joblet.maxLogSize, chunkSize: config.buffers.chunk_size }),
      launcher: new Launcher(config.namespaces.includes("network") ? NETNS_POOL : 0),
      template,
      workspaces: new Workspaces(config.filesystem.baseDir, user),
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
    const server = await JobletServer.start(config, log, { nodeId: config.server.nodeId, jobs, log: log.child("grpc") });
    return new Daemon(server, jobs, Math.min(config.joblet.cleanupTimeout, 5000));
  }

  /** Running jobs are stopped first (their log streams end), then the server. */
  async stop(): Promise<void> {
    await this.jobs.shutdown(this.stopGraceMs);
    await this.server.stop(5000);
  }
}
