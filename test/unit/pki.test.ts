import { afterAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as der from "../../src/pki/der";
import { createAuthority, DEFAULT_SERVER_NAMES, describeCertificate, isSignedBy, issueClientCertificate, issueServerCertificate } from "../../src/pki/authority";

const dir = mkdtempSync(join(tmpdir(), "pki-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** OpenSSL is an independent implementation: what it accepts, other TLS stacks accept too. */
function openssl(args: string[]): { code: number; out: string } {
  const p = Bun.spawnSync(["openssl", ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: p.stdout.toString() + p.stderr.toString() };
}
function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe("DER encoding", () => {
  test("lengths: short form, one and two length bytes", () => {
    expect([...der.tlv(0x04, new Uint8Array(3)).subarray(0, 2)]).toEqual([0x04, 3]);
    expect([...der.tlv(0x04, new Uint8Array(200)).subarray(0, 3)]).toEqual([0x04, 0x81, 200]);
    expect([...der.tlv(0x04, new Uint8Array(300)).subarray(0, 4)]).toEqual([0x04, 0x82, 0x01, 0x2c]);
  });
  test("integers get a leading zero when the high bit is set, and lose redundant ones", () => {
    expect([...der.integer(0x80n)]).toEqual([0x02, 0x02, 0x00, 0x80]);
    expect([...der.integer(Uint8Array.of(0, 0, 0x12))]).toEqual([0x02, 0x01, 0x12]);
    expect([...der.integer(0n)]).toEqual([0x02, 0x01, 0x00]);
  });
  test("object identifiers", () => {
    expect(Buffer.from(der.oid("1.2.840.10045.4.3.2")).toString("hex")).toBe("06082a8648ce3d040302");
  });
  test("times switch to GeneralizedTime from 2050", () => {
    expect(der.time(new Date("2030-01-02T03:04:05Z"))[0]).toBe(0x17);
    expect(der.time(new Date("2051-01-02T03:04:05Z"))[0]).toBe(0x18);
  });
  test("IP addresses", () => {
    expect([...der.ipAddressBytes("127.0.0.1")!]).toEqual([127, 0, 0, 1]);
    expect(der.ipAddressBytes("::1")!.length).toBe(16);
    expect(der.ipAddressBytes("300.1.1.1")).toBeNull();
    expect(der.ipAddressBytes("joblet")).toBeNull();
  });
  test("readTlv walks back what tlv wrote", () => {
    const seq = der.sequence(der.utf8("a"), der.integer(5n));
    const t = der.readTlv(seq, 0);
    expect(der.children(seq, t).map((c) => c.tag)).toEqual([0x0c, 0x02]);
  });
});

describe("certificates", () => {
  const ca = createAuthority({ days: 10 });
  const server = issueServerCertificate(ca, { names: ["10.9.8.7", "joblet.example.org"], days: 5 });
  const viewer = issueClientCertificate(ca, { role: "viewer", name: "vera", days: 5 });
  const caPath = file("ca.pem", ca.cert);

  test("OpenSSL verifies the chain and reads the extensions we wrote", () => {
    const srvPath = file("server.pem", server.cert);
    const cliPath = file("viewer.pem", viewer.cert);
    expect(openssl(["verify", "-CAfile", caPath, srvPath, cliPath]).code).toBe(0);
    expect(openssl(["verify", "-CAfile", caPath, "-purpose", "sslserver", srvPath]).code).toBe(0);
    expect(openssl(["verify", "-CAfile", caPath, "-purpose", "sslclient", cliPath]).code).toBe(0);
    expect(openssl(["verify", "-CAfile", caPath, "-purpose", "sslserver", cliPath]).code).not.toBe(0);
    const text = openssl(["x509", "-in", caPath, "-noout", "-text"]).out;
    expect(text).toContain("CA:TRUE");
    expect(text).toContain("Certificate Sign");
  });

  test("the server certificate names joblet, localhost, joblet-server, 127.0.0.1 and the extras", () => {
    const d = describeCertificate(server.cert);
    expect(d.altNames).toEqual([...DEFAULT_SERVER_NAMES, "10.9.8.7", "joblet.example.org"]);
    expect(new X509Certificate(server.cert).checkHost("joblet")).toBe("joblet");
    expect(new X509Certificate(server.cert).checkIP("10.9.8.7")).toBe("10.9.8.7");
  });

  test("the role travels in the OU; the validity is what was asked", () => {
    const d = describeCertificate(viewer.cert);
    expect(d.subject).toContain("OU=viewer");
    expect(d.subject).toContain("CN=vera");
    const days = (d.validTo.getTime() - d.validFrom.getTime()) / 86_400_000;
    expect(days).toBeCloseTo(5, 0);
    expect(d.expired).toBe(false);
  });

  test("an expired certificate is refused by OpenSSL", () => {
    const old = issueClientCertificate(ca, { role: "admin", name: "old", notBefore: new Date(Date.now() - 5 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    expect(describeCertificate(old.cert).expired).toBe(true);
    const r = openssl(["verify", "-CAfile", caPath, file("old.pem", old.cert)]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("expired");
  });

  test("isSignedBy tells our CA from another", () => {
    const other = createAuthority();
    expect(isSignedBy(viewer.cert, ca.cert)).toBe(true);
    expect(isSignedBy(viewer.cert, other.cert)).toBe(false);
  });

  test("a CA made by OpenSSL can sign our certificates (issuer name and key id copied exactly)", () => {
    const key = join(dir, "ossl-ca.key");
    const crt = join(dir, "ossl-ca.pem");
    const r = openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/C=US/O=Elsewhere/CN=External CA"]);
    expect(r.code).toBe(0);
    const external = { cert: readFileSync(crt, "utf8"), key: readFileSync(key, "utf8") };
    const client = issueClientCertificate(external, { role: "developer", name: "dev" });
    expect(openssl(["verify", "-CAfile", crt, file("ext-client.pem", client.cert)]).code).toBe(0);
  });
});
