// The daemon: a grpc-js server with mutual TLS, the auth interceptor and every service.
import * as grpc from "@grpc/grpc-js";
import type { EventEmitter } from "node:events";
import type { ServerHttp2Session } from "node:http2";
import { createServer } from "node:net";
import type { ServerConfig } from "../config/load";
import type { AuditLog } from "./auth/audit";
import { DEFAULT_HANDSHAKE_LIMITS, guardHandshakes } from "./auth/handshake-guard";
import { authInterceptor, peerOf } from "./auth/interceptor";
import { roleNamed } from "./auth/rbac";
import { registerServices, type ServiceContext } from "./grpc/services";
import { MutualTlsCredentials } from "./grpc/tls";
import type { Logger } from "./logging/logger";

export class JobletServer {
  private constructor(
    private readonly grpcServer: grpc.Server,
    readonly port: number,
    private readonly log: Logger,
  ) {}

  /** `audit` is the daemon's one audit log (the HTTPS endpoint writes to it too); the daemon closes it. */
  static async start(config: ServerConfig, log: Logger, services: ServiceContext, audit: AuditLog): Promise<JobletServer> {
    const sec = config.security;
    if (!sec.serverCert || !sec.serverKey || !sec.caCert) throw new Error("security.serverCert, serverKey and caCert are required");
    const defaultRole = sec.default_role === "none" ? "none" : (roleNamed(sec.default_role) ?? "none");
    if (!sec.enable_rbac) log.warn("security.enable_rbac is false: every client with a valid certificate may call every RPC");

    // grpc-js's own messages go to the "grpc" component, not straight to stderr.
    const grpcLog = log.child("grpc");
    grpc.setLogger({ error: (...args: unknown[]) => grpcLog.debug(args.map(String).join(" ")) });
    grpc.setLogVerbosity(grpc.logVerbosity.ERROR);

    const server = new grpc.Server({
      interceptors: [authInterceptor({ rbac: sec.enable_rbac, defaultRole, audit, log: log.child("auth") })],
      "grpc.max_receive_message_length": config.server.max_message_size,
      "grpc.max_send_message_length": config.server.max_message_size,
      "grpc.keepalive_time_ms": config.server.keepalive.time,
      "grpc.keepalive_timeout_ms": config.server.keepalive.timeout,
    });
    registerServices(server, services);

    const credentials = new MutualTlsCredentials({ ca: sec.caCert, cert: sec.serverCert, key: sec.serverKey }, config.server.tls.min_version);
    const address = hostPort(config.server.address, config.server.port);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, credentials, (err, p) => (err ? reject(new Error(`cannot listen on ${address}: ${bindError(err)}`)) : resolve(p))),
    );
    guardConnections(server, audit, log.child("auth"), config.server.tls.handshake_timeout);
    log.info("listening", { address: config.server.address, port, minTls: config.server.tls.min_version, nodeId: config.server.nodeId });
    return new JobletServer(server, port, log);
  }

  /** Finishes in-flight calls for up to `graceMs`, then cuts the rest. */
  async stop(graceMs = 5000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, graceMs);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.log.info("stopped");
  }
}

/**
 * Connections before their first RPC never reach the interceptor; grpc-js keeps its http2 servers
 * private, so watch them here: a TLS handshake must finish in time and refusals are audited
 * (auth/handshake-guard.ts), and a connection that completed TLS must send the HTTP/2 preface
 * (with its SETTINGS) within as long again (server.tls.handshake_timeout). After that, grpc-js's
 * keepalive pings (server.keepalive) close connections whose peer has gone.
 */
function guardConnections(server: grpc.Server, audit: AuditLog, log: Logger, timeoutMs: number): void {
  const http2Servers = (server as unknown as { http2Servers?: Map<EventEmitter, unknown> }).http2Servers;
  if (!http2Servers) {
    log.warn("cannot observe connections with this grpc-js version: TLS handshake failures will not be audited nor timed out");
    return;
  }
  for (const http2Server of http2Servers.keys()) {
    guardHandshakes(http2Server, { audit, log }, "grpc", { ...DEFAULT_HANDSHAKE_LIMITS, timeoutMs });
    http2Server.on("session", (session: ServerHttp2Session) => {
      const peer = peerOf(session.socket);
      const timer = setTimeout(() => {
        log.info("connection closed: no HTTP/2 preface", { peer, timeoutMs });
        session.destroy();
      }, timeoutMs);
      const settled = () => clearTimeout(timer);
      session.once("remoteSettings", settled);
      session.once("close", settled);
    });
  }
}

/**
 * Fails like the real bind would if the port is taken. Checked before the daemon touches its
 * per-port cgroup directory: a second daemon configured with a running one's port must not
 * clean up (kill) that daemon's jobs as stale.
 */
export async function checkPortFree(host: string, port: number): Promise<void> {
  const address = hostPort(host, port);
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (e) => reject(new Error(`cannot listen on ${address}: ${bindError(e)}`)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** "host:port", an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Why a listen failed, for a person. grpc-js reports a failed bind as "No address added out of
 * total 1 resolved errors: [listen EADDRINUSE …]"; node:net's errors also name the code. */
export function bindError(err: Error): string {
  if (/EADDRINUSE/.test(err.message)) return "address already in use";
  if (/EACCES/.test(err.message)) return "permission denied (ports below 1024 need root)";
  if (/EADDRNOTAVAIL/.test(err.message)) return "no such address on this host";
  return err.message;
}
