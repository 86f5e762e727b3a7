// The project's certificate authority: a CA, the server certificate and per-role client certificates.
import { X509Certificate } from "node:crypto";
import { createCertificate, generateKey, loadIssuer, privateKeyPem } from "./x509";

export interface CertBundle {
  /** PEM certificate */
  cert: string;
  /** PEM PKCS#8 private key */
  key: string;
}

/** SANs every server certificate carries; rnx verifies the server as "joblet" (as Joblet's clients do). */
export const DEFAULT_SERVER_NAMES = ["joblet", "localhost", "joblet-server", "127.0.0.1"];

const DAY_MS = 86_400_000;

export interface Validity {
  days?: number;
  /** explicit window, overriding `days` (used to make expired certificates in tests) */
  notBefore?: Date;
  notAfter?: Date;
}

function window(v: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  // Backdate a little so a client with a slightly slow clock accepts a fresh certificate.
  const notBefore = v.notBefore ?? new Date(Date.now() - 5 * 60_000);
  const notAfter = v.notAfter ?? new Date(notBefore.getTime() + (v.days ?? defaultDays) * DAY_MS);
  return { notBefore, notAfter };
}

export function createAuthority(v: Validity & { commonName?: string } = {}): CertBundle {
  const { privateKey, publicKey } = generateKey();
  const cert = createCertificate({
    subject: { O: "Joblet", OU: "CA", CN: v.commonName ?? "Joblet CA" },
    publicKey,
    selfKey: privateKey,
    usage: "ca",
    ...window(v, 3650),
  });
  return { cert, key: privateKeyPem(privateKey) };
}

export function issueServerCertificate(ca: CertBundle, opts: Validity & { names?: string[] } = {}): CertBundle {
  const { privateKey, publicKey } = generateKey();
  const names = [...new Set([...DEFAULT_SERVER_NAMES, ...(opts.names ?? [])].filter(Boolean))];
  const cert = createCertificate({
    subject: { O: "Joblet", OU: "Server", CN: "joblet-server" },
    publicKey,
    issuer: loadIssuer(ca.cert, ca.key),
    usage: "server",
    altNames: names,
    ...window(opts, 825),
  });
  return { cert, key: privateKeyPem(privateKey) };
}

/** A client certificate; the role travels in the subject OU. */
export function issueClientCertificate(
  ca: CertBundle,
  opts: Validity & { role: string; name: string },
): CertBundle {
  const { privateKey, publicKey } = generateKey();
  const cert = createCertificate({
    subject: { O: "Joblet", OU: opts.role, CN: opts.name },
    publicKey,
    issuer: loadIssuer(ca.cert, ca.key),
    usage: "client",
    ...window(opts, 365),
  });
  return { cert, key: privateKeyPem(privateKey) };
}

export interface CertificateSummary {
  subject: string;
  issuer: string;
  validFrom: Date;
  validTo: Date;
  expired: boolean;
  altNames: string[];
}

export function describeCertificate(pem: string): CertificateSummary {
  const x = new X509Certificate(pem);
  const validTo = new Date(x.validTo);
  return {
    subject: x.subject.replace(/\n/g, ", "),
    issuer: x.issuer.replace(/\n/g, ", "),
    validFrom: new Date(x.validFrom),
    validTo,
    expired: validTo.getTime() < Date.now(),
    altNames: (x.subjectAltName ?? "").split(", ").filter(Boolean).map((s) => s.replace(/^(DNS|IP Address):/, "")),
  };
}

/** True when `certPem` was signed by the CA in `caPem`. */
export function isSignedBy(certPem: string, caPem: string): boolean {
  try {
    return new X509Certificate(certPem).verify(new X509Certificate(caPem).publicKey);
  } catch {
    return false;
  }
}
