// Checks the PEM material embedded in the configuration files, so a broken or expired
// certificate is reported by name before anything tries to use it.
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";

function certificate(pem: string | undefined, key: string, problems: string[]): X509Certificate | undefined {
  if (!pem?.trim()) {
    problems.push(`${key}: not set`);
    return undefined;
  }
  try {
    return new X509Certificate(pem);
  } catch {
    problems.push(`${key}: not a valid PEM certificate`);
    return undefined;
  }
}

function privateKey(pem: string | undefined, key: string, problems: string[]): KeyObject | undefined {
  if (!pem?.trim()) {
    problems.push(`${key}: not set`);
    return undefined;
  }
  try {
    return createPrivateKey(pem);
  } catch {
    problems.push(`${key}: not a valid PEM private key`);
    return undefined;
  }
}

function checkValidity(cert: X509Certificate, key: string, problems: string[], now = Date.now()): void {
  if (new Date(cert.validTo).getTime() < now) problems.push(`${key}: certificate expired on ${new Date(cert.validTo).toISOString()}`);
  else if (new Date(cert.validFrom).getTime() > now) problems.push(`${key}: certificate is not valid before ${new Date(cert.validFrom).toISOString()}`);
}

/**
 * A certificate/key pair and the CA it must chain to. `names` are the config keys to report under.
 * Returns every problem found; an empty list means the material is usable.
 */
export function checkCredentials(
  material: { cert?: string; key?: string; ca?: string },
  names: { cert: string; key: string; ca: string },
): string[] {
  const problems: string[] = [];
  const cert = certificate(material.cert, names.cert, problems);
  const key = privateKey(material.key, names.key, problems);
  const ca = certificate(material.ca, names.ca, problems);
  if (cert) checkValidity(cert, names.cert, problems);
  if (ca) checkValidity(ca, names.ca, problems);
  if (cert && key && !cert.checkPrivateKey(key)) problems.push(`${names.key}: does not match the certificate in ${names.cert}`);
  if (cert && ca && !cert.verify(ca.publicKey)) problems.push(`${names.cert}: not signed by the CA in ${names.ca}`);
  return problems;
}
