// A complete certificate setup for tests: a CA, the server, a client per role, and the bad
// clients the security tests need (unknown OU, expired, signed by another CA).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rnxConfigText } from "../../src/commands/certs";
import { createAuthority, issueClientCertificate, issueServerCertificate, type CertBundle } from "../../src/pki/authority";

export interface TestPki {
  ca: CertBundle;
  server: CertBundle;
  clients: Record<ClientName, CertBundle>;
  /** another CA, and a client it signed */
  rogueCa: CertBundle;
}

export type ClientName = "admin" | "maintainer" | "developer" | "viewer" | "reader" | "unknown" | "expired" | "rogue";

const DAY = 86_400_000;

export function makePki(): TestPki {
  const ca = createAuthority({ days: 30 });
  const rogueCa = createAuthority({ days: 30, commonName: "Rogue CA" });
  const role = (r: string, name = `${r}-client`) => issueClientCertificate(ca, { role: r, name, days: 2 });
  return {
    ca,
    rogueCa,
    server: issueServerCertificate(ca, { days: 2 }),
    clients: {
      admin: role("admin"),
      maintainer: role("maintainer"),
      developer: role("developer"),
      viewer: role("viewer"),
      reader: role("reader"),
      unknown: role("contractors", "mystery-client"),
      expired: issueClientCertificate(ca, { role: "admin", name: "old-admin", notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) }),
      rogue: issueClientCertificate(rogueCa, { role: "admin", name: "rogue-admin", days: 2 }),
    },
  };
}

/** Writes rnx-config-<client>.yml for every client, pointing at `address`; returns their paths. */
export function writeClientConfigs(dir: string, pki: TestPki, address: string): Record<ClientName, string> {
  mkdirSync(dir, { recursive: true });
  const out = {} as Record<ClientName, string>;
  for (const [name, bundle] of Object.entries(pki.clients) as [ClientName, CertBundle][]) {
    const path = join(dir, `rnx-config-${name}.yml`);
    writeFileSync(path, rnxConfigText({ address, nodeId: "test-node", client: bundle, ca: pki.ca.cert, comment: `test client ${name}` }), { mode: 0o600 });
    out[name] = path;
  }
  return out;
}
