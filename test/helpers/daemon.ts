// Starts the compiled daemon on a free loopback port with a throwaway configuration, and stops it
// (by its pid) when the test is done.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { JOBLET, requireBinary } from "./paths";
import { makePki, writeClientConfigs, type ClientName, type TestPki } from "./pki";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** True once something accepts TCP connections on 127.0.0.1:port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export interface TestDaemon {
  dir: string;
  pid: number;
  /** the daemon's exit status once it exits */
  exited: Promise<number>;
  port: number;
  /** the HTTPS endpoint's port (server.http_port; 0 when turned off) */
  httpPort: number;
  address: string;
  pki: TestPki;
  configPath: string;
  auditPath: string;
  /** rnx-config.yml per client */
  clients: Record<ClientName, string>;
  output(): string;
  stop(): Promise<number>;
}

export interface DaemonOptions {
  /** merged over the generated configuration's top-level sections */
  config?: Record<string, Record<string, unknown>>;
  pki?: TestPki;
  serveArgs?: string[];
  /** extra environment for the daemon process */
  env?: Record<string, string>;
}

/** Every directory a daemon keeps state in, under `root`, so a second daemon finds the first's. */
export function durable(root: string, extra: NonNullable<DaemonOptions["config"]> = {}): NonNullable<DaemonOptions["config"]> {
  return {
    ...extra,
    filesystem: { baseDir: join(root, "jobs"), tmpDir: join(root, "tmp"), ...extra.filesystem },
    persist: { storage: { local: { logs: { directory: join(root, "logs") }, metrics: { directory: join(root, "metrics") } } }, ...extra.persist },
    state: { local: { directory: join(root, "state") }, ...extra.state },
  };
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<TestDaemon> {
  const overrides = opts.config ?? {};
  const pki = opts.pki ?? makePki();
  requireBinary();
  const dir = mkdtempSync(join(tmpdir(), "joblet-test-"));
  const port = (overrides.server?.port as number | undefined) ?? (await freePort());
  const httpPort: number = (overrides.server?.http_port as number | undefined) ?? (await freePort().then((p): Promise<number> | number => (p === port ? freePort() : p)));
  const auditPath = join(dir, "log", "audit.log");
  // The daemon logs to a file, not to a pipe: a test blocked in spawnSync (rnx) does not read a
  // pipe, and a daemon that logged more than the pipe holds meanwhile would stall on it.
  const logFile = join(dir, "log", "daemon.log");
  const config = {
    version: "3.0",
    ...overrides,
    server: { address: "127.0.0.1", port, http_port: httpPort, nodeId: "11111111-2222-3333-4444-555555555555", ...overrides.server },
    security: { serverCert: pki.server.cert, serverKey: pki.server.key, caCert: pki.ca.cert, audit: { log_file: auditPath }, ...overrides.security },
    logging: { level: "debug", outputs: [{ type: "file", path: logFile, format: "text", rotate: false }], ...overrides.logging },
    filesystem: { baseDir: join(dir, "jobs"), tmpDir: join(dir, "tmp"), ...overrides.filesystem },
    persist: { storage: { local: { logs: { directory: join(dir, "logs") }, metrics: { directory: join(dir, "metrics") } } }, ...overrides.persist },
    state: { local: { directory: join(dir, "state") }, ...overrides.state },
  };
  const configPath = join(dir, "joblet-config.yml");
  writeFileSync(configPath, stringify(config), { mode: 0o600 });
  const proc = Bun.spawn([JOBLET, "serve", `--config=${configPath}`, ...(opts.serveArgs ?? [])], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", TMPDIR: tmpdir(), ...opts.env },
  });
  let out = "";
  const collect = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) out += Buffer.from(chunk).toString();
  };
  let kept: string | undefined; // the log, once the directory is gone
  const output = () => kept ?? `${existsSync(logFile) ? readFileSync(logFile, "utf8") : ""}${out}`;
  void collect(proc.stdout);
  void collect(proc.stderr);
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port)) || (httpPort !== 0 && !(await accepts(httpPort)))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await proc.exited;
      const text = output();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`daemon did not start (exit ${proc.exitCode}):\n${text}`);
    }
    await Bun.sleep(20);
  }
  const address = `127.0.0.1:${port}`;
  return {
    dir,
    pid: proc.pid,
    exited: proc.exited,
    port,
    httpPort,
    address,
    pki,
    configPath,
    auditPath,
    clients: writeClientConfigs(join(dir, "clients"), pki, address),
    output,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      const code = await proc.exited;
      kept ??= output();
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
