// X.509 v3 certificates (ECDSA P-256 / SHA-256) built with node:crypto and our DER encoder,
// so certificate setup needs no openssl CLI.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import * as der from "./der";

const OID = {
  commonName: "2.5.4.3",
  country: "2.5.4.6",
  organization: "2.5.4.10",
  organizationalUnit: "2.5.4.11",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

export interface DistinguishedName {
  O?: string;
  OU?: string;
  CN: string;
}

export type CertificateUsage = "ca" | "server" | "client";

export interface Issuer {
  /** DER of the issuer's subject Name, copied byte for byte into issued certificates */
  nameDer: Uint8Array;
  key: KeyObject;
  /** subjectKeyIdentifier of the issuer, for authorityKeyIdentifier */
  keyId?: Uint8Array;
}

export interface CertificateSpec {
  subject: DistinguishedName;
  publicKey: KeyObject;
  /** omitted: self-signed with `selfKey` */
  issuer?: Issuer;
  selfKey?: KeyObject;
  usage: CertificateUsage;
  notBefore: Date;
  notAfter: Date;
  /** DNS names and IP addresses for subjectAltName */
  altNames?: string[];
}

export function generateKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync("ec", { namedCurve: "P-256" });
}

export function nameDer(dn: DistinguishedName): Uint8Array {
  const rdn = (oid: string, value: string) => der.set(der.sequence(der.oid(oid), der.utf8(value)));
  const parts: Uint8Array[] = [];
  if (dn.O) parts.push(rdn(OID.organization, dn.O));
  if (dn.OU) parts.push(rdn(OID.organizationalUnit, dn.OU));
  parts.push(rdn(OID.commonName, dn.CN));
  return der.sequence(...parts);
}

/** KeyUsage bits as a DER named-bit BIT STRING (trailing zero bits removed). */
function keyUsage(bits: number[]): Uint8Array {
  let value = 0;
  for (const b of bits) value |= 0x80 >> b;
  let unused = 0;
  while (unused < 7 && !(value & (1 << unused))) unused++;
  return der.tlv(0x03, Uint8Array.of(unused, value));
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? der.sequence(der.oid(oid), der.bool(true), der.octetString(value))
    : der.sequence(der.oid(oid), der.octetString(value));
}

function keyId(publicKey: KeyObject): Uint8Array {
  const spki = publicKey.export({ type: "spki", format: "der" });
  return Uint8Array.from(createHash("sha1").update(spki).digest());
}

function altNames(names: string[]): Uint8Array {
  return der.sequence(
    ...names.map((n) => {
      const ip = der.ipAddressBytes(n);
      return ip ? der.implicit(7, ip) : der.implicit(2, new TextEncoder().encode(n));
    }),
  );
}

/** Builds and signs a certificate; returns it as PEM. */
export function createCertificate(spec: CertificateSpec): string {
  const signer = spec.issuer?.key ?? spec.selfKey;
  if (!signer) throw new Error("createCertificate: an issuer or selfKey is required");
  const subjectName = nameDer(spec.subject);
  const issuerName = spec.issuer?.nameDer ?? subjectName;
  const serial = Uint8Array.from(randomBytes(16));
  serial[0]! &= 0x7f; // positive
  serial[0]! |= 0x40; // no leading zero byte

  const extensions: Uint8Array[] = [];
  if (spec.usage === "ca") {
    extensions.push(extension(OID.basicConstraints, true, der.sequence(der.bool(true), der.integer(0n))));
    extensions.push(extension(OID.keyUsage, true, keyUsage([5, 6]))); // keyCertSign, cRLSign
  } else {
    extensions.push(extension(OID.basicConstraints, true, der.sequence()));
    extensions.push(extension(OID.keyUsage, true, keyUsage([0]))); // digitalSignature
    const eku = spec.usage === "server" ? OID.serverAuth : OID.clientAuth;
    extensions.push(extension(OID.extKeyUsage, false, der.sequence(der.oid(eku))));
  }
  if (spec.altNames?.length) extensions.push(extension(OID.subjectAltName, false, altNames(spec.altNames)));
  extensions.push(extension(OID.subjectKeyIdentifier, false, der.octetString(keyId(spec.publicKey))));
  const issuerKeyId = spec.issuer ? spec.issuer.keyId : keyId(spec.publicKey);
  if (issuerKeyId) {
    extensions.push(extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, issuerKeyId))));
  }

  const algorithm = der.sequence(der.oid(OID.ecdsaWithSha256));
  const tbs = der.sequence(
    der.explicit(0, der.integer(2n)), // v3
    der.integer(serial),
    algorithm,
    issuerName,
    der.sequence(der.time(spec.notBefore), der.time(spec.notAfter)),
    subjectName,
    Uint8Array.from(spec.publicKey.export({ type: "spki", format: "der" })),
    der.explicit(3, der.sequence(...extensions)),
  );
  const signature = Uint8Array.from(sign("sha256", tbs, signer));
  return toPem(der.sequence(tbs, algorithm, der.bitString(signature)), "CERTIFICATE");
}

export function toPem(body: Uint8Array, label: string): string {
  const b64 = Buffer.from(body).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export function fromPem(pem: string, label = "CERTIFICATE"): Uint8Array {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (!m) throw new Error(`no ${label} PEM block found`);
  return Uint8Array.from(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
}

export function privateKeyPem(key: KeyObject): string {
  return String(key.export({ type: "pkcs8", format: "pem" }));
}

/** Loads an issuer (CA certificate + key, PEM) for signing further certificates. */
export function loadIssuer(certPem: string, keyPem: string): Issuer {
  const cert = fromPem(certPem);
  const certificate = der.readTlv(cert, 0);
  const tbs = der.children(cert, certificate)[0]!;
  const fields = der.children(cert, tbs);
  // [0] version, serial, signature, issuer, validity, subject, spki, ...
  const offset = fields[0]!.tag === 0xa0 ? 1 : 0;
  const subject = fields[offset + 4]!;
  let id: Uint8Array | undefined;
  const exts = fields.find((f) => f.tag === 0xa3);
  if (exts) {
    const list = der.children(cert, exts)[0]!;
    for (const ext of der.children(cert, list)) {
      const parts = der.children(cert, ext);
      const oidBytes = cert.subarray(parts[0]!.start, parts[0]!.end);
      if (Buffer.from(oidBytes).equals(Buffer.from(der.oid(OID.subjectKeyIdentifier)))) {
        const value = parts[parts.length - 1]!; // OCTET STRING wrapping OCTET STRING
        const inner = der.readTlv(cert, value.body);
        id = cert.slice(inner.body, inner.end);
      }
    }
  }
  return { nameDer: cert.slice(subject.start, subject.end), key: createPrivateKey(keyPem), keyId: id };
}
