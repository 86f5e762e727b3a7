// Who is calling: the verified client certificate's subject (TLS already checked the chain).
import type * as grpc from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import { roleFromOU, type Role } from "./rbac";

type AuthContext = ReturnType<grpc.ServerUnaryCall<unknown, unknown>["getAuthContext"]>;

export interface Identity {
  cn: string;
  ou: string[];
  role: Role | "none";
  /** SHA-256 fingerprint of the client certificate */
  fingerprint: string;
  peer: string;
}

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The identity a verified peer certificate stands for (gRPC calls and the HTTPS endpoint alike). */
export function identityFromCertificate(cert: PeerCertificate | undefined | null, peer: string, defaultRole: Role | "none"): Identity {
  const subject = (cert?.subject ?? {}) as unknown as Record<string, string | string[] | undefined>;
  const ou = asList(subject.OU);
  return {
    cn: asList(subject.CN)[0] ?? "",
    ou,
    role: roleFromOU(ou, defaultRole),
    fingerprint: cert?.fingerprint256 ?? "",
    peer,
  };
}

export function identityOf(
  call: { getAuthContext(): AuthContext; getPeer(): string },
  defaultRole: Role | "none",
): Identity {
  return identityFromCertificate(call.getAuthContext()?.sslPeerCertificate, call.getPeer(), defaultRole);
}
