// Audit log: one JSON line per authorization decision, per mutating call (with its outcome)
// and per refused TLS handshake. The file is created 0600 inside a 0700 directory.
import { chmodSync, closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { ServerConfig } from "../../config/load";
import type { Identity } from "./identity";

type AuditSettings = ServerConfig["security"]["audit"];

export type AuditEvent =
  | { event: "auth"; result: "allowed" | "denied"; who: Who; method: string; permission?: string; reason?: string }
  | { event: "operation"; result: "ok" | "error"; who: Who; method: string; target?: string; code: number; message?: string }
  | { event: "tls"; result: "denied"; peer: string; reason: string };

interface Who {
  cn: string;
  ou: string;
  role: string;
  peer: string;
}

export const who = (id: Identity): Who => ({ cn: id.cn, ou: id.ou.join(","), role: id.role, peer: id.peer });

export class AuditLog {
  private fd: number | undefined;

  constructor(readonly settings: AuditSettings) {
    if (!settings.enabled) return;
    mkdirSync(dirname(settings.log_file), { recursive: true, mode: 0o700 });
    this.fd = openSync(settings.log_file, "a", 0o600);
    chmodSync(settings.log_file, 0o600); // an existing file keeps its old mode otherwise
  }

  get enabled(): boolean {
    return this.fd !== undefined;
  }

  record(e: AuditEvent): void {
    if (this.fd === undefined) return;
    const s = this.settings;
    if (e.event === "auth" && !(e.result === "allowed" ? s.log_successful_auth : s.log_failed_auth)) return;
    if (e.event === "tls" && !s.log_failed_auth) return;
    writeSync(this.fd, `${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
