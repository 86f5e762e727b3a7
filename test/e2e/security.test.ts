// The daemon's front door, tested through the compiled binary (as `rnx`) against a real daemon on
// loopback with freshly generated certificates: mTLS, TLS version, RBAC per role, audit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { join } from "node:path";
import { rnxConfigText } from "../../src/commands/certs";
import * as gen from "../../src/gen/joblet";
import { startDaemon, freePort, type TestDaemon } from "../helpers/daemon";
import { joblet, rnx } from "../helpers/run";

let d: TestDaemon;
beforeAll(async () => {
  d = await startDaemon();
});
afterAll(async () => {
  await d?.stop();
});

const as = (client: keyof TestDaemon["clients"], ...args: string[]) => rnx(["--config", d.clients[client], ...args]);

function auditLines(): Record<string, unknown>[] {
  return readFileSync(d.auditPath, "utf8").trim().split("\n").map((l) => JSON.parse(l));
}

/** Raw TLS handshake + HTTP/2 preface: resolves with how the server treated us. */
function handshake(opts: ConnectionOptions): Promise<{ secured: boolean; answered: boolean; error?: string; protocol?: string | null }> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port: d.port, servername: "joblet", ca: d.pki.ca.cert, ALPNProtocols: ["h2"], ...opts });
    const result = { secured: false, answered: false, error: undefined as string | undefined, protocol: undefined as string | null | undefined };
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(result);
    };
    const timer = setTimeout(finish, 3000);
    s.on("secureConnect", () => {
      result.secured = true;
      result.protocol = s.getProtocol();
      s.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    });
    s.on("data", () => {
      result.answered = true;
      finish();
    });
    s.on("error", (e: Error & { code?: string }) => {
      result.error = e.code ?? e.message;
      finish();
    });
    s.on("close", finish);
  });
}

describe("mutual TLS", () => {
  test("an admin certificate is served", async () => {
    const r = await handshake({ cert: d.pki.clients.admin.cert, key: d.pki.clients.admin.key });
    expect(r).toMatchObject({ secured: true, answered: true, protocol: "TLSv1.3" });
  });

  test("no client certificate is refused", async () => {
    const r = await handshake({});
    expect(r.answered).toBe(false);
    expect(r.error ?? "").toMatch(/CERTIFICATE_REQUIRED|ECONNRESET/);
    // grpc-js as a client without a certificate gets nowhere either.
    const client = new gen.MonitoringServiceClient(d.address, grpc.credentials.createSsl(Buffer.from(d.pki.ca.cert)), { "grpc.ssl_target_name_override": "joblet" });
    const err = await new Promise<grpc.ServiceError | null>((res) => client.getSystemStatus({}, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e) => res(e)));
    client.close();
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
  });

  test("a certificate signed by another CA is refused, and rnx says so in one line", async () => {
    const r = await handshake({ cert: d.pki.clients.rogue.cert, key: d.pki.clients.rogue.key });
    expect(r.answered).toBe(false);
    const cli = as("rogue", "monitor", "status");
    expect(cli.code).toBe(1);
    expect(cli.stderr.trim().split("\n")).toHaveLength(1);
    expect(cli.stderr).toContain("not signed by the node's CA");
  });

  test("an expired certificate is refused by the server, and rnx names the expiry", async () => {
    const r = await handshake({ cert: d.pki.clients.expired.cert, key: d.pki.clients.expired.key });
    expect(r.answered).toBe(false);
    const cli = as("expired", "monitor", "status");
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/client certificate of node "default" expired on/);
  });

  test("TLS 1.2 is refused (min_version 1.3), by Node's TLS and by OpenSSL", async () => {
    const r = await handshake({ cert: d.pki.clients.admin.cert, key: d.pki.clients.admin.key, maxVersion: "TLSv1.2" });
    expect(r.secured).toBe(false);
    expect(r.error ?? "").toMatch(/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|ECONNRESET/);
    const certFile = join(d.dir, "admin.pem");
    const keyFile = join(d.dir, "admin.key");
    writeFileSync(certFile, d.pki.clients.admin.cert);
    writeFileSync(keyFile, d.pki.clients.admin.key);
    const ossl = (v: string) =>
      Bun.spawnSync(["openssl", "s_client", v, "-connect", `127.0.0.1:${d.port}`, "-cert", certFile, "-key", keyFile, "-servername", "joblet", "-brief"], { stdin: Buffer.from("Q\n"), stdout: "pipe", stderr: "pipe", timeout: 10_000 });
    expect(ossl("-tls1_2").exitCode).not.toBe(0);
    const ok = ossl("-tls1_3");
    expect(ok.exitCode).toBe(0);
    expect(ok.stderr.toString()).toContain("TLSv1.3");
  });

  test("a server certificate from another CA is refused by rnx, naming the CA problem", () => {
    const path = join(d.dir, "wrong-ca.yml");
    writeFileSync(path, rnxConfigText({ address: d.address, nodeId: "", client: d.pki.clients.admin, ca: d.pki.rogueCa.cert, comment: "wrong CA" }));
    const cli = rnx(["--config", path, "monitor", "status"]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/client certificate of node "default" is not signed by the node's CA|server certificate .* is not signed by the CA configured/);
  });

  test("an unreachable address is one clear line", async () => {
    const port = await freePort();
    const path = join(d.dir, "nowhere.yml");
    writeFileSync(path, rnxConfigText({ address: `127.0.0.1:${port}`, nodeId: "", client: d.pki.clients.admin, ca: d.pki.ca.cert, comment: "nowhere" }));
    const cli = rnx(["--config", path, "monitor", "status"]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toBe(`error: cannot reach joblet at 127.0.0.1:${port}: connection refused (is the daemon running?)\n`);
  });

  test("refused handshakes are audited with their reason", () => {
    const tls = auditLines().filter((l) => l.event === "tls");
    const reasons = tls.map((l) => String(l.reason)).join("\n");
    expect(reasons).toMatch(/PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/);
    expect(reasons).toMatch(/CERT_HAS_EXPIRED|expired/);
    expect(reasons).toMatch(/UNABLE_TO_VERIFY|unable to verify/);
    expect(reasons).toMatch(/UNSUPPORTED_PROTOCOL|PROTOCOL_VERSION/);
  });
});

describe("role-based access", () => {
  test("admin: monitoring works and a mutating RPC passes the gate", () => {
    const status = as("admin", "monitor", "status");
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("Node ID: 11111111-2222-3333-4444-555555555555");
    const run = as("admin", "job", "run", "-f", "echo", "hi");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("hi\n");
  });

  test("rnx version prints the client's and the server's versions", () => {
    const r = as("viewer", "version");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^rnx \d+\.\d+\.\d+ \(Joblet API v2\.5\.8\)\nserver: joblet \d+\.\d+\.\d+ \(bun [\d.]+, linux\/\w+, API v2\.5\.8\)\n$/);
  });

  test("viewer: reads pass, a mutating RPC is PERMISSION_DENIED naming role and permission", () => {
    const run = as("viewer", "job", "run", "echo", "hi");
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("error: permission denied: role viewer lacks permission job:run (needed for joblet.JobService/RunJob)\n");
    expect(as("viewer", "job", "list").code).toBe(0);
    expect(as("viewer", "monitor", "status").code).toBe(0);
  });

  test("reader is an alias of viewer", () => {
    expect(as("reader", "monitor", "status").code).toBe(0);
    expect(as("reader", "job", "delete-all").stderr).toContain("role viewer lacks permission job:delete");
  });

  test("developer runs jobs but cannot create networks; maintainer creates but cannot remove", () => {
    expect(as("developer", "job", "stop", "abcdef12").stderr).toContain("job abcdef12 not found");
    expect(as("developer", "network", "create", "n1", "--cidr", "10.44.0.0/24").stderr).toContain("role developer lacks permission network:create");
    expect(as("maintainer", "network", "create", "n1", "--cidr", "10.44.0.0/24").stderr).toContain("networking is not implemented yet");
    expect(as("maintainer", "volume", "remove", "v1").stderr).toContain("role maintainer lacks permission volume:remove");
    expect(as("admin", "volume", "remove", "v1").stderr).toContain("volumes is not implemented yet");
  });

  test("an unknown OU gets security.default_role, here none: even monitoring is refused", () => {
    const r = as("unknown", "monitor", "status");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("names no role");
  });

  test("decisions and mutating calls are audited with who, what and the outcome; the file is 0600", () => {
    expect(statSync(d.auditPath).mode & 0o777).toBe(0o600);
    const lines = auditLines();
    const denied = lines.find((l) => l.event === "auth" && l.result === "denied" && (l.who as { cn: string }).cn === "viewer-client");
    expect(denied).toMatchObject({ method: "/joblet.JobService/RunJob", permission: "job:run" });
    const op = lines.find((l) => l.event === "operation" && l.method === "/joblet.JobService/StopJob");
    expect(op).toMatchObject({ result: "error", target: "abcdef12", code: grpc.status.NOT_FOUND, who: { cn: "developer-client", role: "developer" } });
    const ran = lines.find((l) => l.event === "operation" && l.method === "/joblet.JobService/RunJob" && l.result === "ok");
    expect(ran).toMatchObject({ target: "command=echo", code: grpc.status.OK, who: { cn: "admin-client" } });
    // Reads are not operations unless log_all_operations is set.
    expect(lines.some((l) => l.event === "operation" && l.method === "/joblet.MonitoringService/GetSystemStatus")).toBe(false);
  });
});

describe("every RPC answers", () => {
  test("every method answers an empty request; those not built yet say UNIMPLEMENTED; nothing crashes", async () => {
    const creds = grpc.credentials.createSsl(Buffer.from(d.pki.ca.cert), Buffer.from(d.pki.clients.admin.key), Buffer.from(d.pki.clients.admin.cert));
    const services = Object.entries(gen).filter(([n]) => n.endsWith("ServiceService")) as [string, grpc.ServiceDefinition][];
    const results: string[] = [];
    for (const [, def] of services) {
      const Client = grpc.makeGenericClientConstructor(def, "x");
      const client = new Client(d.address, creds, { "grpc.ssl_target_name_override": "joblet" }) as unknown as Record<string, (...a: unknown[]) => unknown>;
      for (const [name, m] of Object.entries(def)) {
        const empty = m.requestDeserialize(Buffer.alloc(0)); // the request with every field at its default
        const code = await new Promise<number>((resolve) => {
          if (m.responseStream) {
            const call = client[name]!(empty, new grpc.Metadata(), { deadline: Date.now() + 5000 }) as grpc.ClientReadableStream<unknown>;
            call.on("data", () => undefined);
            call.on("error", (e: grpc.ServiceError) => resolve(e.code));
            call.on("end", () => resolve(grpc.status.OK));
          } else {
            client[name]!(empty, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e: grpc.ServiceError | null) => resolve(e ? e.code : grpc.status.OK));
          }
        });
        results.push(`${m.path} ${grpc.status[code]}`);
      }
      (client as unknown as grpc.Client).close();
    }
    expect(results).toHaveLength(31); // Joblet API v2 and our WorkflowService
    const notBuilt = /NetworkService|VolumeService|RuntimeService|StreamSystemMetrics|JobTelematics/;
    for (const r of results) {
      if (notBuilt.test(r)) expect(r).toEndWith(" UNIMPLEMENTED");
      else expect(r).toMatch(/ (OK|INVALID_ARGUMENT)$/); // an empty request is answered, never crashes
    }
    expect(d.output()).toContain("listening"); // still up
  });
});

describe("daemon settings", () => {
  test("default_role viewer lets an unknown OU read but not write; SIGTERM stops cleanly", async () => {
    const v = await startDaemon({ config: { security: { default_role: "viewer" } } });
    try {
      const read = rnx(["--config", v.clients.unknown, "monitor", "status"]);
      expect(read.code).toBe(0);
      const write = rnx(["--config", v.clients.unknown, "job", "run", "true"]);
      expect(write.stderr).toContain("role viewer lacks permission job:run");
    } finally {
      const out = () => v.output();
      const code = await v.stop();
      expect(code).toBe(0);
      expect(out()).toContain("shutting down signal=SIGTERM");
      expect(out()).toContain("stopped");
    }
  });

  test("server.max_message_size is enforced; SIGINT also stops the daemon cleanly", async () => {
    const small = await startDaemon({ config: { server: { max_message_size: 4096 } } });
    try {
      const big = join(small.dir, "big.bin");
      writeFileSync(big, Buffer.alloc(64 * 1024, 1));
      const r = rnx(["--config", small.clients.admin, "job", "run", `--upload=${big}`, "true"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("RESOURCE_EXHAUSTED");
      expect(rnx(["--config", small.clients.admin, "job", "run", "true"]).code).toBe(0); // small requests still pass
    } finally {
      process.kill(small.pid, "SIGINT");
      expect(await small.exited).toBe(0);
      const out = small.output;
      await small.stop();
      expect(out()).toContain("shutting down signal=SIGINT");
    }
  });

  test("--pid-file: written at start, a second daemon on the same file refuses, removed at exit", async () => {
    const pidDir = mkdtempSync(join(tmpdir(), "pid-"));
    const pidFile = join(pidDir, "joblet.pid");
    const p = await startDaemon({ serveArgs: [`--pid-file=${pidFile}`] });
    try {
      expect(readFileSync(pidFile, "utf8")).toBe(`${p.pid}\n`);
      const second = joblet(["serve", `--config=${p.configPath}`, `--pid-file=${pidFile}`]);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`joblet is already running as pid ${p.pid}`);
      const samePort = joblet(["serve", `--config=${p.configPath}`]);
      expect(samePort.code).toBe(1);
      // the same configuration: its state directory is taken before its port is even tried
      expect(samePort.stderr).toContain(`error: state directory ${join(p.dir, "state")} is in use by another joblet process`);
      // its own state directory, the same port: refused before it could take the running
      // daemon's jobs for stale leftovers of its own
      const job = rnx(["--config", p.clients.admin, "job", "run", "sleep", "30"]).stdout.match(/ID:\s+(\S+)/)![1]!;
      const other = join(pidDir, "other.yml");
      writeFileSync(other, `${readFileSync(p.configPath, "utf8")}\n`.replace(/^state:\n(  .*\n)+/m, `state:\n  local:\n    directory: ${join(pidDir, "state")}\n`));
      const port = joblet(["serve", `--config=${other}`]);
      expect(port.stderr).toBe(`error: cannot listen on 127.0.0.1:${p.port}: address already in use\n`);
      expect(rnx(["--config", p.clients.admin, "job", "status", job]).stdout).toMatch(/Status:\s+RUNNING/);
      expect(readFileSync(pidFile, "utf8")).toBe(`${p.pid}\n`);
    } finally {
      await p.stop();
    }
    expect(existsSync(pidFile)).toBe(false);
    rmSync(pidDir, { recursive: true, force: true });
  });

  test("a daemon without certificates refuses to start and says how to fix it", async () => {
    const path = join(d.dir, "nocerts.yml");
    writeFileSync(path, 'version: "3.0"\nserver:\n  address: 127.0.0.1\n  port: 1\n');
    const r = joblet(["serve", `--config=${path}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("security.serverCert: not set");
    expect(r.stderr).toContain("joblet certs init");
  });
});
