// Connections that have not shown a certificate yet. Each listener (the gRPC port and the HTTPS
// endpoint) gives a connection HANDSHAKE_TIMEOUT_MS to finish its TLS handshake and keeps at most
// MAX_PENDING_HANDSHAKES such connections at once; a refused handshake is audited with the peer
// noted when it connected.
//
// Bun's node:tls and node:http2 servers accept `handshakeTimeout` but do not act on it: without
// this, a client that connects and sends nothing (or half a ClientHello) holds a socket and an fd
// for as long as it likes, and enough of them exhaust the daemon's descriptors.
import type { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import type { Logger } from "../logging/logger";
import type { AuditLog } from "./audit";
import { auditHandshakeRefusal, peerOf } from "./interceptor";

/** The default of server.tls.handshake_timeout: a TLS handshake must finish within this many ms
 * of the TCP connect (and, on the gRPC port, the HTTP/2 preface must follow within as long
 * again). Generous, because a legitimate client on a loaded machine can be slow to start. */
export const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Connections still in their TLS handshake, per listener; more are closed at once. */
export const MAX_PENDING_HANDSHAKES = 1024;

export interface HandshakeLimits {
  timeoutMs: number;
  maxPending: number;
}

export const DEFAULT_HANDSHAKE_LIMITS: HandshakeLimits = { timeoutMs: HANDSHAKE_TIMEOUT_MS, maxPending: MAX_PENDING_HANDSHAKES };

/** How often, at most, the daemon log notes connections closed for MAX_PENDING_HANDSHAKES. */
const OVERFLOW_NOTE_MS = 10_000;

export interface HandshakeGuard {
  /** connections whose handshake is in progress */
  readonly pending: number;
}

/**
 * Watches a TLS server's connections (a node:tls server or an http2 secure server): closes those
 * whose handshake takes longer than `limits.timeoutMs` (audited as HANDSHAKE_TIMEOUT), closes new
 * ones beyond `limits.maxPending`, and audits every refused handshake. `listener` names the port
 * in the daemon's log.
 */
export function guardHandshakes(
  server: EventEmitter,
  settings: { audit: AuditLog; log: Logger },
  listener: string,
  limits: HandshakeLimits = DEFAULT_HANDSHAKE_LIMITS,
): HandshakeGuard {
  const pending = new Map<Socket, ReturnType<typeof setTimeout>>();
  /** the peer of every connection, noted at connect: a refused socket may have lost its address by the time it is reported */
  const peers = new WeakMap<object, string>();
  /** connections this guard closed: the reset that follows is not another refusal */
  const closedHere = new WeakSet<object>();
  let overflow = 0;
  let overflowNoted = 0;

  const settle = (socket: Socket) => {
    clearTimeout(pending.get(socket));
    pending.delete(socket);
  };

  // Before grpc-js's own listener: a connection closed here never reaches it.
  server.prependListener("connection", (socket: Socket) => {
    const peer = peerOf(socket);
    peers.set(socket, peer);
    if (pending.size >= limits.maxPending) {
      closedHere.add(socket);
      socket.destroy();
      overflow++;
      if (Date.now() - overflowNoted >= OVERFLOW_NOTE_MS) {
        settings.log.warn("connections closed: too many TLS handshakes in progress", { listener, limit: limits.maxPending, closed: overflow });
        overflowNoted = Date.now();
        overflow = 0;
      }
      return;
    }
    const timer = setTimeout(() => {
      pending.delete(socket);
      closedHere.add(socket);
      settings.audit.record({ event: "tls", result: "denied", peer, reason: `HANDSHAKE_TIMEOUT: no TLS handshake within ${limits.timeoutMs} ms` });
      settings.log.info("TLS handshake timed out", { listener, peer });
      socket.destroy();
    }, limits.timeoutMs);
    timer.unref?.();
    pending.set(socket, timer);
    socket.once("close", () => settle(socket));
  });
  // Under Bun the socket of "secureConnection" is the one "connection" reported.
  server.on("secureConnection", (socket: Socket) => settle(socket));
  server.on("tlsClientError", (err: Error & { code?: string }, socket?: Socket) => {
    if (socket) settle(socket);
    if (socket && closedHere.has(socket)) return;
    auditHandshakeRefusal(settings, err, (socket && peers.get(socket)) ?? peerOf(socket));
  });

  return {
    get pending() {
      return pending.size;
    },
  };
}
