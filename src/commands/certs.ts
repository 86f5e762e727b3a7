// joblet certs init | issue: the CA, the server certificate embedded in joblet-config.yml, and
// rnx-config.yml files with per-role client certificates. Private material is written 0600.
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseDocument, Scalar, stringify } from "yaml";
import defaultConfig from "../../config/joblet-config.yml" with { type: "text" };
import { DEFAULT_CONFIG_DIR } from "../config/load";
import { isHost, parseHostPort } from "../config/values";
import { roleNamed, ROLES } from "../daemon/auth/rbac";
import { createAuthority, describeCertificate, issueClientCertificate, issueServerCertificate, type CertBundle } from "../pki/authority";
import { CommandError, UsageError, type Options } from "./cli";

/** Writes through a temporary file so a reader never sees half a key, mode 0600 from the start. */
export function writePrivateFile(path: string, content: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

const block = (pem: string) => Object.assign(new Scalar(pem), { type: Scalar.BLOCK_LITERAL });

function caPaths(dir: string) {
  return { cert: join(dir, "ca", "ca-cert.pem"), key: join(dir, "ca", "ca-key.pem") };
}

function loadCa(dir: string): CertBundle {
  const p = caPaths(dir);
  if (!existsSync(p.key)) throw new CommandError(`no CA in ${join(dir, "ca")}: run \`joblet certs init --out ${dir}\` first`);
  return { cert: readFileSync(p.cert, "utf8"), key: readFileSync(p.key, "utf8") };
}

function days(v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 36500) throw new UsageError(`--days: expected a number of days 1-36500, got "${String(v)}"`);
  return n;
}

function port(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--port: expected a port number 1-65535, got "${String(v)}"`);
  return n;
}

export function rnxConfigText(opts: { address: string; nodeId: string; client: CertBundle; ca: string; comment: string }): string {
  const doc = parseDocument(
    stringify({ version: "3.0", default_node: "default", nodes: { default: { address: opts.address, nodeId: opts.nodeId, cert: "", key: "", ca: "" } } }),
  );
  doc.setIn(["nodes", "default", "cert"], block(opts.client.cert));
  doc.setIn(["nodes", "default", "key"], block(opts.client.key));
  doc.setIn(["nodes", "default", "ca"], block(opts.ca));
  doc.commentBefore = ` ${opts.comment}`;
  return doc.toString();
}

/** joblet certs init */
export async function init(_args: string[], o: Options): Promise<void> {
  const dir = resolve(String(o.out ?? DEFAULT_CONFIG_DIR));
  const configPath = join(dir, "joblet-config.yml");
  const rnxPath = join(dir, "rnx-config.yml");
  const ca = caPaths(dir);
  if (existsSync(ca.key) && !o.force) {
    throw new CommandError(`a CA already exists in ${join(dir, "ca")}; pass --force to replace it (every certificate it issued stops working)`);
  }
  let address = o.address === undefined ? undefined : String(o.address);
  const given = address ? parseHostPort(address) : undefined;
  if (given) address = given.host; // "host:port" given: the port is the listen port
  if (address && !isHost(address)) throw new UsageError(`--address: expected an IP address or host name, got "${address}"`);
  const extraNames = String(o.names ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const validity = days(o.days, 825);

  const doc = parseDocument(existsSync(configPath) ? readFileSync(configPath, "utf8") : defaultConfig);
  if (doc.errors.length) throw new CommandError(`${configPath}: not valid YAML: ${doc.errors[0]!.message}`);
  const listenPort = port(o.port) ?? given?.port ?? Number(doc.getIn(["server", "port"]) ?? 50051);
  if (o.port !== undefined || given) doc.setIn(["server", "port"], listenPort);
  let nodeId = String(doc.getIn(["server", "nodeId"]) ?? "");
  if (!nodeId || o.force) nodeId = randomUUID();
  doc.setIn(["server", "nodeId"], nodeId);

  const authority = createAuthority({ days: 3650 });
  const server = issueServerCertificate(authority, { names: [...(address ? [address] : []), ...extraNames], days: validity });
  const admin = issueClientCertificate(authority, { role: "admin", name: "admin-client", days: validity });
  doc.setIn(["security", "serverCert"], block(server.cert));
  doc.setIn(["security", "serverKey"], block(server.key));
  doc.setIn(["security", "caCert"], block(authority.cert));

  mkdirSync(join(dir, "ca"), { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  chmodSync(join(dir, "ca"), 0o700);
  writePrivateFile(ca.key, authority.key);
  writePrivateFile(ca.cert, authority.cert);
  writePrivateFile(configPath, doc.toString());
  const clientAddress = `${address ?? "localhost"}:${listenPort}`;
  writePrivateFile(rnxPath, rnxConfigText({ address: clientAddress, nodeId, client: admin, ca: authority.cert, comment: "rnx client configuration: admin credentials (OU=admin). Keep it private." }));

  const names = describeCertificate(server.cert).altNames;
  process.stdout.write(
    [
      `CA:             ${ca.cert} (key ${ca.key})`,
      `server config:  ${configPath} (nodeId ${nodeId})`,
      `server names:   ${names.join(", ")}`,
      `admin client:   ${rnxPath} (address ${clientAddress})`,
      `valid for:      ${validity} days`,
    ].join("\n") + "\n",
  );
}

/** joblet certs issue --role R --name N */
export async function issue(_args: string[], o: Options): Promise<void> {
  const dir = resolve(String(o.dir ?? DEFAULT_CONFIG_DIR));
  const roleName = String(o.role ?? "");
  const role = roleNamed(roleName);
  if (!role) throw new UsageError(`--role: expected one of ${ROLES.join(", ")} (or reader), got "${roleName}"`);
  const name = String(o.name ?? "");
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name)) throw new UsageError(`--name: expected 1-64 characters of letters, digits, ".", "_", "@" or "-", got "${name}"`);
  const out = resolve(String(o.output ?? join(dir, `rnx-config-${name}.yml`)));
  if (existsSync(out) && !o.force) throw new CommandError(`${out} already exists; pass --force to overwrite it`);

  const authority = loadCa(dir);
  const client = issueClientCertificate(authority, { role, name, days: days(o.days, 365) });

  // The address and node id the new client should use: --address, else the admin rnx-config's, else the server's port on localhost.
  let address = o.address === undefined ? undefined : String(o.address);
  let nodeId = "";
  const configPath = join(dir, "joblet-config.yml");
  if (existsSync(configPath)) {
    const cfg = parseDocument(readFileSync(configPath, "utf8"));
    nodeId = String(cfg.getIn(["server", "nodeId"]) ?? "");
    address ??= `localhost:${String(cfg.getIn(["server", "port"]) ?? 50051)}`;
  }
  const adminRnx = join(dir, "rnx-config.yml");
  if (o.address === undefined && existsSync(adminRnx)) {
    const existing = parseDocument(readFileSync(adminRnx, "utf8")).getIn(["nodes", "default", "address"]);
    if (typeof existing === "string") address = existing;
  }
  address ??= "localhost:50051";
  if (!/:\d+$/.test(address)) address = `${address}:50051`;

  writePrivateFile(out, rnxConfigText({ address, nodeId, client, ca: authority.cert, comment: `rnx client configuration for ${name} (role ${role}). Keep it private.` }));
  const d = describeCertificate(client.cert);
  process.stdout.write(`${out}: ${name}, role ${role}, valid until ${d.validTo.toISOString()}\n`);
}
