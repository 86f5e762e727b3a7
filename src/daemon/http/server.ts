// The HTTPS endpoint (server.http_port): job logs, status and events for clients that speak
// HTTP rather than gRPC (curl, browsers' EventSource, scripts). Same certificates as the gRPC
// server, a verified client certificate required, the same RBAC table and audit log.
//
// Under Bun, node:https does not expose the client certificate, so TLS is a node:tls server
// (HTTP/1.1 only, which also gives real flow control: Bun's HTTP/2 buffers without bound) whose
// connections are handed to a node:http server.
import { status as grpcStatus } from "@grpc/grpc-js";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from "node:tls";
import type { ServerConfig } from "../../config/load";
import { type AuditLog, who } from "../auth/audit";
import { identityFromCertificate } from "../auth/identity";
import { DEFAULT_HANDSHAKE_LIMITS, guardHandshakes } from "../auth/handshake-guard";
import { auditDecision, peerOf } from "../auth/interceptor";
import { authorize, roleNamed, type Role } from "../auth/rbac";
import { ApiError } from "../errors";
import { bindError, hostPort } from "../server";
import type { Logger } from "../logging/logger";
import { routeOf, sendError, type JobSource, type RequestContext } from "./routes";
import { EventStream, type StreamTiming } from "./sse";

/** Event streams open at once (each holds a connection and, for logs, an open file). */
const MAX_STREAMS = 256;
/** TLS connections at once; more are closed right after the handshake. (Connections still in
 * their handshake are limited and timed out by auth/handshake-guard.ts.) */
const MAX_CONNECTIONS = 512;
const MAX_HEADER_BYTES = 16 * 1024;

export interface EndpointTiming extends StreamTiming {
  /** a connection must send a complete request within this (idle keep-alive connections close after it) */
  requestMs: number;
  /** a TLS handshake must finish within this (default: server.tls.handshake_timeout) */
  handshakeMs?: number;
}

export const DEFAULT_TIMING: EndpointTiming = { heartbeatMs: 15_000, stallMs: 60_000, requestMs: 10_000 };


export class HttpsEndpoint {
  private readonly http: HttpServer;
  private readonly connections = new Set<TLSSocket>();
  /** per connection: requests in progress, and the timer that closes it when it sends none */
  private readonly idle = new Map<TLSSocket, { active: number; timer?: ReturnType<typeof setTimeout> }>();
  private readonly streams = new Set<EventStream>();
  private readonly responses = new Set<ServerResponse>();
  private stopping = false;
  private signalStop!: () => void;
  private readonly stopped = new Promise<void>((resolve) => (this.signalStop = resolve));
  private readonly defaultRole: Role | "none";
  private tls!: TlsServer;
  port = 0;

  private constructor(
    private readonly config: ServerConfig,
    private readonly jobs: JobSource,
    private readonly log: Logger,
    private readonly timing: EndpointTiming,
    private readonly audit: AuditLog,
  ) {
    const sec = config.security;
    this.defaultRole = sec.default_role === "none" ? "none" : (roleNamed(sec.default_role) ?? "none");
    this.http = createHttpServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => void this.serve(req, res));
    this.http.on("clientError", (err: Error & { code?: string }, socket: Duplex) => {
      // a request that is not HTTP, or headers over MAX_HEADER_BYTES: answer once, then hang up
      if (!socket.writable || socket.writableEnded) return void socket.destroy();
      const status = err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    });
  }

  /** Listens on server.address:server.http_port; undefined when http_port is 0 (no endpoint). */
  static async start(config: ServerConfig, log: Logger, jobs: JobSource, audit: AuditLog, timing: EndpointTiming = DEFAULT_TIMING): Promise<HttpsEndpoint | undefined> {
    if (config.server.http_port === 0) return undefined;
    const endpoint = new HttpsEndpoint(config, jobs, log, timing, audit);
    await endpoint.listen();
    return endpoint;
  }

  private async listen(): Promise<void> {
    const { server, security: sec } = this.config;
    if (!sec.serverCert || !sec.serverKey || !sec.caCert) throw new Error("security.serverCert, serverKey and caCert are required");
    this.tls = createTlsServer(
      {
        cert: sec.serverCert,
        key: sec.serverKey,
        ca: sec.caCert,
        requestCert: true, // ask for a client certificate …
        rejectUnauthorized: true, // … and refuse the handshake without a valid one
        minVersion: server.tls.min_version === "1.3" ? "TLSv1.3" : "TLSv1.2",
        ALPNProtocols: ["http/1.1"],
        // no handshakeTimeout: Bun ignores it; the guard below times handshakes out
      },
      (socket) => this.accept(socket),
    );
    guardHandshakes(this.tls, { audit: this.audit, log: this.log }, "https", {
      ...DEFAULT_HANDSHAKE_LIMITS,
      timeoutMs: this.timing.handshakeMs ?? server.tls.handshake_timeout,
    });
    const where = hostPort(server.address, server.http_port);
    await new Promise<void>((resolve, reject) => {
      const failed = (e: Error) => reject(new Error(`cannot listen on ${where} (server.http_port): ${bindError(e)}`));
      this.tls.once("error", failed);
      this.tls.listen(server.http_port, server.address, () => {
        this.tls.off("error", failed);
        resolve();
      });
    });
    this.tls.on("error", (e: Error) => this.log.warn("HTTPS listener error", { error: e.message }));
    this.port = (this.tls.address() as { port: number }).port;
    this.log.info("HTTPS endpoint listening", { address: server.address, port: this.port, minTls: server.tls.min_version });
  }

  private accept(socket: TLSSocket): void {
    if (this.stopping || this.connections.size >= MAX_CONNECTIONS) {
      this.log.warn("HTTPS connection refused", { peer: peerOf(socket), reason: this.stopping ? "shutting down" : `${MAX_CONNECTIONS} connections open` });
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    this.idle.set(socket, { active: 0 });
    socket.on("error", () => {}); // a reset connection; its request (if any) sees "close"
    socket.on("close", () => {
      clearTimeout(this.idle.get(socket)?.timer);
      this.idle.delete(socket);
      this.connections.delete(socket);
    });
    this.armIdle(socket);
    this.http.emit("connection", socket);
  }

  /** Closes a connection that sends no (complete) request in time. */
  private armIdle(socket: TLSSocket): void {
    const state = this.idle.get(socket);
    if (!state || state.active > 0 || socket.destroyed) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(() => socket.destroy(), this.stopping ? 0 : this.timing.requestMs);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const socket = req.socket as TLSSocket;
    const state = this.idle.get(socket);
    if (state) {
      clearTimeout(state.timer);
      state.active++;
    }
    this.responses.add(res);
    res.on("close", () => {
      this.responses.delete(res);
      if (state) state.active--;
      this.armIdle(socket);
    });
    try {
      await this.dispatch(req, res, socket);
    } catch (e) {
      if (res.headersSent) {
        this.log.warn("HTTPS stream failed", { path: req.url, error: (e as Error).message });
        res.destroy();
      } else if (e instanceof ApiError) sendError(res, e.code, e.message);
      else {
        this.log.error("HTTPS request failed", { path: req.url, error: (e as Error).message, stack: (e as Error).stack });
        sendError(res, "INTERNAL", `internal error: ${(e as Error).message}`);
      }
    }
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, socket: TLSSocket): Promise<void> {
    const url = new URL(req.url ?? "/", "https://joblet");
    const match = routeOf(url.pathname);
    if (!match) return sendError(res, "NOT_FOUND", `no such path: ${url.pathname.slice(0, 200)} (served: /v1/jobs/{id}/logs, /v1/jobs/{id}/status, /v1/events)`);
    if (req.method !== "GET") return sendError(res, "METHOD_NOT_ALLOWED", `${String(req.method).slice(0, 20)} is not allowed here; use GET`, { allow: "GET", connection: "close" });
    if (hasBody(req)) return sendError(res, "INVALID_ARGUMENT", "request bodies are not accepted", { connection: "close" });

    const identity = identityFromCertificate(socket.getPeerCertificate(), peerOf(socket), this.defaultRole);
    const method = `GET ${url.pathname}`;
    const decision = authorize(identity.role, match.route.rpc, this.config.security.enable_rbac);
    auditDecision({ audit: this.audit, log: this.log }, identity, decision, method);
    if (!decision.allowed) return sendError(res, "PERMISSION_DENIED", `permission denied: ${decision.reason}`);

    const context: RequestContext = {
      req,
      res,
      url,
      id: match.id,
      jobs: this.jobs,
      log: this.log,
      openStream: () => this.openStream(res),
      stopping: this.stopped,
      isStopping: () => this.stopping,
    };
    if (!this.audit.settings.log_all_operations) return match.route.handle(context);
    // as the gRPC interceptor does for reads: with log_all_operations, every call and its outcome
    const operation = { event: "operation" as const, who: who(identity), method, target: match.id || undefined };
    try {
      await match.route.handle(context);
      this.audit.record({ ...operation, result: "ok", code: grpcStatus.OK });
    } catch (e) {
      this.audit.record({ ...operation, result: "error", code: e instanceof ApiError ? grpcStatus[e.code] : grpcStatus.INTERNAL, message: (e as Error).message });
      throw e;
    }
  }

  private openStream(res: ServerResponse): EventStream {
    if (this.stopping) throw new ApiError("UNAVAILABLE", "the daemon is shutting down");
    if (this.streams.size >= MAX_STREAMS) throw new ApiError("RESOURCE_EXHAUSTED", `${MAX_STREAMS} event streams are open on this server; try again later`);
    const stream = new EventStream(res, this.timing);
    this.streams.add(stream);
    void stream.closedPromise().then(() => this.streams.delete(stream));
    return stream;
  }

  /** Ends every stream (clients resume with Last-Event-ID), waits up to `graceMs` for responses
   * in flight, then cuts what is left. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    this.signalStop();
    const closed = new Promise<void>((resolve) => this.tls.close(() => resolve()));
    for (const socket of this.connections) this.armIdle(socket); // idle keep-alive connections close now
    const deadline = Date.now() + graceMs;
    while (this.responses.size > 0 && Date.now() < deadline) await Bun.sleep(25);
    for (const socket of this.connections) socket.destroy();
    await Promise.race([closed, Bun.sleep(1000)]);
    this.log.info("HTTPS endpoint stopped");
  }
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}
