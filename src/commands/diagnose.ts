// Turns grpc's "Failed to connect" into the actual reason, by probing the node step by step:
// local certificate checks, TCP, the TLS handshake, then whether the server keeps the connection.
import { X509Certificate } from "node:crypto";
import { connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { parseHostPort } from "../config/values";
import { DEFAULT_SERVER_NAME, type RnxNode } from "../config/rnx-schema";

const PROBE_TIMEOUT_MS = 3000;
/** HTTP/2 client preface followed by an empty SETTINGS frame. */
const H2_PREFACE = Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

function localProblem(name: string, node: RnxNode): string | undefined {
  try {
    const cert = new X509Certificate(node.cert!);
    if (new Date(cert.validTo).getTime() < Date.now()) {
      return `the client certificate of node "${name}" expired on ${new Date(cert.validTo).toISOString()}; issue a new one with \`joblet certs issue\``;
    }
    if (node.ca && !cert.verify(new X509Certificate(node.ca).publicKey)) {
      return `the client certificate of node "${name}" is not signed by the node's CA; the server will refuse it`;
    }
  } catch {
    return `node "${name}": cert or ca is not a valid PEM certificate`;
  }
  return undefined;
}

function tcpProbe(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port });
    const done = (r: string | undefined) => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(PROBE_TIMEOUT_MS, () => done(`no answer from ${host}:${port} within ${PROBE_TIMEOUT_MS / 1000}s`));
    s.on("connect", () => done(undefined));
    s.on("error", (e: Error & { code?: string }) => {
      if (e.code === "ECONNREFUSED") done(`cannot reach joblet at ${host}:${port}: connection refused (is the daemon running?)`);
      else if (e.code === "ENOTFOUND" || e.code === "EAI_AGAIN") done(`cannot resolve host "${host}"`);
      else done(`cannot reach joblet at ${host}:${port}: ${e.code ?? e.message}`);
    });
  });
}

const CA_ERRORS = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_SIGNATURE_FAILURE",
]);

function tlsProbe(host: string, port: number, name: string, node: RnxNode): Promise<string | undefined> {
  const serverName = node.serverName ?? DEFAULT_SERVER_NAME;
  return new Promise((resolve) => {
    const s = tlsConnect({ host, port, servername: serverName, ca: node.ca, cert: node.cert, key: node.key, ALPNProtocols: ["h2"], minVersion: "TLSv1.2" });
    let secured = false;
    const done = (r: string | undefined) => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(PROBE_TIMEOUT_MS, () => done(secured ? undefined : `TLS handshake with ${host}:${port} timed out`));
    s.on("secureConnect", () => {
      secured = true;
      s.write(H2_PREFACE);
    });
    s.on("data", () => done(undefined)); // the server answered HTTP/2: TLS and the client certificate are fine
    s.on("error", (e: Error & { code?: string }) => {
      const code = e.code ?? "";
      if (CA_ERRORS.has(code) || /CERTIFICATE_VERIFY_FAILED/.test(code)) {
        done(`the server certificate at ${host}:${port} is not signed by the CA configured for node "${name}" (${code})`);
      } else if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
        done(`the server certificate at ${host}:${port} is not valid for the name "${serverName}"`);
      } else if (code === "CERT_HAS_EXPIRED") {
        done(`the server certificate at ${host}:${port} has expired`);
      } else if (/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/.test(code)) {
        done(`${host}:${port} and this client share no TLS version`);
      } else if (/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|UNKNOWN_CA|CERTIFICATE_EXPIRED/.test(code) || (secured && code === "ECONNRESET")) {
        done(`the server at ${host}:${port} rejected the client certificate of node "${name}"`);
      } else {
        done(`TLS with ${host}:${port} failed: ${code || e.message}`);
      }
    });
    s.on("close", () => done(secured ? `the server at ${host}:${port} rejected the client certificate of node "${name}" (it closed the connection after the handshake)` : `${host}:${port} closed the connection during the TLS handshake (is it a joblet server?)`));
  });
}

/** One line saying why `node` cannot be used; `details` is grpc's own message, the fallback. */
export async function diagnoseConnection(name: string, node: RnxNode, details: string): Promise<string> {
  const local = localProblem(name, node);
  if (local) return local;
  const hp = parseHostPort(node.address);
  if (!hp) return `node "${name}": invalid address "${node.address}"`;
  const tcp = await tcpProbe(hp.host, hp.port);
  if (tcp) return tcp;
  const tls = await tlsProbe(hp.host, hp.port, name, node);
  if (tls) return tls;
  return `cannot talk to joblet at ${node.address} (node "${name}"): ${details}`;
}
