// The one gate every RPC passes: identify the caller from its certificate, authorize the
// method against the RBAC table, audit the decision, and audit the outcome of mutating calls.
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../logging/logger";
import { type AuditLog, who } from "./audit";
import { identityOf, type Identity } from "./identity";
import { MUTATING, authorize, type Decision, type Permission, type Role } from "./rbac";

export interface AuthSettings {
  rbac: boolean;
  defaultRole: Role | "none";
  audit: AuditLog;
  log: Logger;
}

/** The id a request is about, for the audit trail (uuid, job_uuid, name or runtime). */
export function requestTarget(message: unknown): string | undefined {
  if (!message || typeof message !== "object") return undefined;
  const m = message as Record<string, unknown>;
  for (const k of ["uuid", "jobUuid", "name", "runtime"]) {
    if (typeof m[k] === "string" && m[k]) return m[k] as string;
  }
  if (typeof m.command === "string" && m.command) return `command=${m.command}`;
  return undefined;
}

function shouldAuditOperation(audit: AuditLog, permission: Permission): boolean {
  const s = audit.settings;
  if (s.log_all_operations) return true;
  if (!MUTATING.has(permission)) return false;
  return permission.startsWith("job:") ? s.log_job_operations : s.log_admin_operations;
}

/** Records an RBAC decision in the audit log (and a denial in the daemon's log). `label` names
 * what was called: the gRPC method path, or the HTTPS request line. */
export function auditDecision(settings: Pick<AuthSettings, "audit" | "log">, identity: Identity, decision: Decision, label: string): void {
  if (decision.allowed) {
    settings.audit.record({ event: "auth", result: "allowed", who: who(identity), method: label, permission: decision.permission });
    return;
  }
  settings.audit.record({ event: "auth", result: "denied", who: who(identity), method: label, permission: decision.permission, reason: decision.reason });
  settings.log.warn("permission denied", { cn: identity.cn, role: identity.role, method: label });
}

/** "address:port" of a connection's peer. */
export const peerOf = (s: { remoteAddress?: string; remotePort?: number } | undefined) => `${s?.remoteAddress ?? "unknown"}:${s?.remotePort ?? 0}`;

/** Records a TLS handshake the server refused (no client certificate, another CA, expired, old
 * TLS) — these never reach a request. A reset connection refused nothing and is not recorded. */
export function auditHandshakeRefusal(settings: Pick<AuthSettings, "audit" | "log">, err: Error & { code?: string }, peer: string): void {
  if (err.code === "ECONNRESET") return;
  settings.audit.record({ event: "tls", result: "denied", peer, reason: `${err.code ?? "TLS"}: ${err.message}` });
  settings.log.info("TLS handshake refused", { peer, reason: err.code ?? err.message });
}

export function authInterceptor(settings: AuthSettings): grpc.ServerInterceptor {
  const { audit } = settings;
  return (method, call) => {
    const identity = identityOf(call, settings.defaultRole);
    const decision = authorize(identity.role, method.path, settings.rbac);
    let target: string | undefined;

    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        auditDecision(settings, identity, decision, method.path);
        if (!decision.allowed) {
          call.sendStatus({ code: grpc.status.PERMISSION_DENIED, details: `permission denied: ${decision.reason}` });
          return;
        }
        next(metadata);
      })
      .withOnReceiveMessage((message, next) => {
        target ??= requestTarget(message);
        next(message);
      })
      .build();

    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status, next) => {
        if (decision.allowed && shouldAuditOperation(audit, decision.permission)) {
          const ok = status.code === grpc.status.OK;
          audit.record({
            event: "operation",
            result: ok ? "ok" : "error",
            who: who(identity),
            method: method.path,
            target,
            code: status.code ?? grpc.status.UNKNOWN,
            message: ok ? undefined : status.details,
          });
        }
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}
