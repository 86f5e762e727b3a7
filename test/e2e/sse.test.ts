// The HTTPS endpoint (server.http_port): job logs as server-sent events whose ids are byte
// offsets (resumed exactly with Last-Event-ID, by curl and by a small TS client), status JSON,
// job events, mTLS + RBAC + audit. Against the compiled daemon on loopback; the heartbeat,
// slow-client and shutdown behaviour against an in-process endpoint with short timers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { loadServerConfig } from "../../src/config/load";
import { AuditLog } from "../../src/daemon/auth/audit";
import { notFound } from "../../src/daemon/errors";
import { HttpsEndpoint } from "../../src/daemon/http/server";
import type { JobSource } from "../../src/daemon/http/routes";
import { LogEventEncoder } from "../../src/daemon/http/sse";
import type { JobRecord } from "../../src/daemon/jobs/job";
import { Logger } from "../../src/daemon/logging/logger";
import { JobLog } from "../../src/daemon/logs/log-store";
import type { CertBundle } from "../../src/pki/authority";
import { jobClient, readLogs, startJob } from "../helpers/client";
import { freePort, startDaemon, type TestDaemon } from "../helpers/daemon";
import { makePki, type TestPki } from "../helpers/pki";
import { rnx } from "../helpers/run";

// ---- a small event-stream client -------------------------------------------------------------

interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** The event-stream format as EventSource parses it (comments kept, for heartbeats). */
class SseParser {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  private buf = "";
  private data: string[] = [];
  private event = "";
  private id: string | undefined;
  private readonly decoder = new TextDecoder();

  push(bytes: Uint8Array): void {
    this.buf += this.decoder.decode(bytes, { stream: true });
    for (let m = /\r\n|\r|\n/.exec(this.buf); m; m = /\r\n|\r|\n/.exec(this.buf)) {
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === "") {
      if (this.data.length) this.events.push({ event: this.event || "message", id: this.id, data: this.data.join("\n") });
      this.data = [];
      this.event = "";
      return;
    }
    if (line.startsWith(":")) return void this.comments.push(line.slice(1).trim());
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id") this.id = value;
  }
}

/** The log bytes the events carry, checking that every id is the offset just past its bytes. */
function logBytes(events: SseEvent[], from: number): { bytes: Buffer; lastId: number; end?: Record<string, unknown> } {
  const parts: Buffer[] = [];
  let offset = from;
  let end: Record<string, unknown> | undefined;
  for (const e of events) {
    if (e.event === "end") end = JSON.parse(e.data);
    if (e.event !== "log" && e.event !== "log-b64") continue;
    const b = e.event === "log" ? Buffer.from(e.data, "utf8") : Buffer.from(e.data, "base64");
    offset += b.length;
    expect(Number(e.id)).toBe(offset);
    parts.push(b);
  }
  return { bytes: Buffer.concat(parts), lastId: offset, end };
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

// ---- the daemon --------------------------------------------------------------------------------

let d: TestDaemon;
let pemDir: string;
const pem = (name: string) => join(pemDir, name);
let base: string;

beforeAll(async () => {
  d = await startDaemon();
  base = `https://127.0.0.1:${d.httpPort}`;
  pemDir = mkdtempSync(join(tmpdir(), "joblet-sse-"));
  writeFileSync(pem("ca.pem"), d.pki.ca.cert, { mode: 0o600 });
  for (const [name, b] of Object.entries(d.pki.clients)) {
    writeFileSync(pem(`${name}.crt`), b.cert, { mode: 0o600 });
    writeFileSync(pem(`${name}.key`), b.key, { mode: 0o600 });
  }
});
afterAll(async () => {
  await d?.stop();
  if (pemDir) rmSync(pemDir, { recursive: true, force: true });
});

const grpc = () => jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);

/** A GET over mutual TLS with Bun's fetch. */
function get(path: string, client: CertBundle | undefined = d.pki.clients.admin, headers: Record<string, string> = {}, ca = d.pki.ca.cert): Promise<Response> {
  // keepalive off: Bun's connection pool does not tell client certificates apart
  return fetch(`${base}${path}`, { headers, keepalive: false, tls: { ca, ...(client ? { cert: client.cert, key: client.key } : {}) } } as RequestInit);
}

/** Reads an event stream until `until` holds (then disconnects) or the server ends it. */
async function readStream(res: Response, parser: SseParser, until: (p: SseParser) => boolean = () => false): Promise<void> {
  const reader = res.body!.getReader();
  try {
    while (!until(parser)) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** The next chunk of a stream that must not end yet. */
async function next(reader: { read(): Promise<{ value?: Uint8Array; done: boolean }> }): Promise<Uint8Array> {
  const { value, done } = await reader.read();
  if (done || !value) throw new Error("the stream ended early");
  return value;
}

const runJob = (command: string, args: string[]) => startJob(grpc(), command, args);

/** Output written over ~3 s: text, a character split across two writes, CR and non-UTF-8 bytes. */
const SLOW_SCRIPT = `i=0
while [ $i -lt 60 ]; do
  i=$((i+1))
  printf 'line %d é — données\\n' $i
  if [ $((i % 15)) = 0 ]; then printf 'progress\\r\\001\\377\\376 done\\n'; fi
  if [ $((i % 20)) = 0 ]; then printf 'split \\342\\234'; sleep 0.05; printf '\\223 check\\n'; fi
  sleep 0.05
done`;

function auditLines(): Record<string, unknown>[] {
  return readFileSync(d.auditPath, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

// ---- tests ---------------------------------------------------------------------------------------

describe("job logs as server-sent events", () => {
  test("curl: killed mid-stream, resumed with Last-Event-ID, gets every byte exactly once", async () => {
    const uuid = await runJob("sh", ["-c", SLOW_SCRIPT]);
    const curl = (...extra: string[]) =>
      Bun.spawn(["curl", "-sS", "-N", "--cacert", pem("ca.pem"), "--cert", pem("viewer.crt"), "--key", pem("viewer.key"), ...extra, `${base}/v1/jobs/${uuid}/logs`], { stdout: "pipe", stderr: "pipe" });

    const first = curl();
    const p1 = new SseParser();
    const reader = first.stdout.getReader();
    while (p1.events.length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      p1.push(value);
    }
    first.kill(); // mid-stream: the job still runs
    for (let r = await reader.read(); !r.done; r = await reader.read()) p1.push(r.value);
    await first.exited;
    const part1 = logBytes(p1.events, 0);
    expect(part1.end).toBeUndefined();
    expect(part1.lastId).toBeGreaterThan(0);

    const second = curl("-H", `Last-Event-ID: ${part1.lastId}`);
    const out = Buffer.from(await new Response(second.stdout).arrayBuffer());
    expect(await second.exited).toBe(0);
    const p2 = new SseParser();
    p2.push(out);
    expect(p2.comments[0]).toBe(`output of job ${uuid} from byte ${part1.lastId}`);
    const part2 = logBytes(p2.events, part1.lastId);
    expect(part2.end).toMatchObject({ uuid, status: "COMPLETED", exit_code: 0 });
    expect(p2.events.at(-1)!.event).toBe("end");

    const full = await readLogs(grpc(), uuid);
    expect(full.length).toBeGreaterThan(1500);
    const joined = Buffer.concat([part1.bytes, part2.bytes]);
    expect(sha(joined)).toBe(sha(full));
    // the text came as text, the CR / non-UTF-8 lines as base64
    const kinds = new Set([...p1.events, ...p2.events].map((e) => e.event));
    expect(kinds).toEqual(new Set(["log", "log-b64", "end"]));
  });

  test("a TS client (fetch) resumes a running job's stream exactly, and ?encoding=base64&offset= replays", async () => {
    const uuid = await runJob("sh", ["-c", SLOW_SCRIPT]);
    const p1 = new SseParser();
    await readStream(await get(`/v1/jobs/${uuid}/logs`, d.pki.clients.viewer), p1, (p) => p.events.length >= 4);
    const part1 = logBytes(p1.events, 0);
    const status = (await (await get(`/v1/jobs/${uuid}/status`)).json()) as { status: string };
    expect(status.status).toBe("RUNNING"); // resumed while it still runs

    const res = await get(`/v1/jobs/${uuid.slice(0, 8)}/logs?offset=0`, d.pki.clients.viewer, { "Last-Event-ID": String(part1.lastId) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const p2 = new SseParser();
    await readStream(res, p2);
    const part2 = logBytes(p2.events, part1.lastId); // Last-Event-ID wins over ?offset=
    expect(part2.end).toMatchObject({ uuid, status: "COMPLETED" });
    const full = await readLogs(grpc(), uuid);
    expect(sha(Buffer.concat([part1.bytes, part2.bytes]))).toBe(sha(full));

    // the finished job's log, replayed from an offset, every chunk as base64
    const p3 = new SseParser();
    await readStream(await get(`/v1/jobs/${uuid}/logs?encoding=base64&offset=7`), p3);
    expect(new Set(p3.events.map((e) => e.event))).toEqual(new Set(["log-b64", "end"]));
    expect(sha(logBytes(p3.events, 7).bytes)).toBe(sha(full.subarray(7)));
  });

  test("bad offsets and encodings are 400 with JSON", async () => {
    const uuid = await runJob("echo", ["hello"]);
    await readLogs(grpc(), uuid);
    const cases: [string, Record<string, string>, RegExp][] = [
      [`/v1/jobs/${uuid}/logs`, { "Last-Event-ID": "abc" }, /Last-Event-ID: expected a byte offset/],
      [`/v1/jobs/${uuid}/logs?offset=-1`, {}, /offset: expected a byte offset/],
      [`/v1/jobs/${uuid}/logs?offset=7`, {}, /offset 7 is past the end of the log .* \(6 bytes so far\)/],
      [`/v1/jobs/${uuid}/logs?encoding=utf16`, {}, /encoding: expected "text" or "base64"/],
    ];
    for (const [path, headers, message] of cases) {
      const res = await get(path, d.pki.clients.admin, headers);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; code: string };
      expect(body.code).toBe("INVALID_ARGUMENT");
      expect(body.error).toMatch(message);
    }
    // at the very end: nothing more, just the end event
    const p = new SseParser();
    await readStream(await get(`/v1/jobs/${uuid}/logs`, d.pki.clients.admin, { "Last-Event-ID": "6" }), p);
    expect(p.events.map((e) => e.event)).toEqual(["end"]);
  });
});

describe("status and events", () => {
  test("status JSON is what `rnx job status --json` prints (GetJobStatus, snake_case)", async () => {
    const uuid = await runJob("sh", ["-c", "echo done"]);
    await readLogs(grpc(), uuid);
    const res = await get(`/v1/jobs/${uuid}/status`, d.pki.clients.viewer);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    const viaRnx = JSON.parse(rnx(["--config", d.clients.admin, "--json", "job", "status", uuid]).stdout);
    expect(await res.json()).toEqual(viaRnx);
    expect(viaRnx).toMatchObject({ uuid, status: "COMPLETED", exit_code: 0 });
  });

  test("/v1/events delivers RUNNING then COMPLETED of a job started after subscribing", async () => {
    const res = await get("/v1/events");
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const p = new SseParser();
    while (!p.comments.some((c) => c.startsWith("job events"))) p.push(await next(reader));
    const uuid = await runJob("sh", ["-c", "sleep 0.3"]);
    const states = () => p.events.filter((e) => e.event === "job").map((e) => JSON.parse(e.data) as { uuid: string; status: string }).filter((j) => j.uuid === uuid).map((j) => j.status);
    while (!states().includes("COMPLETED")) p.push(await next(reader));
    await reader.cancel();
    const s = states();
    expect(s.indexOf("RUNNING")).toBeGreaterThanOrEqual(0);
    expect(s.indexOf("RUNNING")).toBeLessThan(s.indexOf("COMPLETED"));
  });

  test("/v1/events?job= filters one job; an unknown job is 404", async () => {
    const other = await runJob("sh", ["-c", "sleep 0.2"]);
    const mine = await runJob("sh", ["-c", "sleep 0.5"]);
    const p = new SseParser();
    await readStream(await get(`/v1/events?job=${mine}`), p, (q) => q.events.some((e) => JSON.parse(e.data).status === "COMPLETED"));
    expect(new Set(p.events.map((e) => JSON.parse(e.data).uuid))).toEqual(new Set([mine]));
    await readLogs(grpc(), other);
    expect((await get("/v1/events?job=00000000-0000-0000-0000-000000000000")).status).toBe(404);
  });
});

describe("front door", () => {
  test("without a client certificate, or with one from another CA or expired, the TLS handshake is refused (and audited)", async () => {
    const before = auditLines().filter((l) => l.event === "tls").length;
    for (const client of [[], ["--cert", pem("rogue.crt"), "--key", pem("rogue.key")], ["--cert", pem("expired.crt"), "--key", pem("expired.key")]]) {
      const curl = Bun.spawnSync(["curl", "-sS", "--cacert", pem("ca.pem"), ...client, `${base}/v1/events`]);
      expect(curl.exitCode).not.toBe(0);
      expect(curl.stdout.length).toBe(0);
    }
    // Bun's fetch without a certificate (keepalive off: a pooled connection would carry another's)
    const error = await fetch(`${base}/v1/events`, { keepalive: false, tls: { ca: d.pki.ca.cert } } as RequestInit).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(Error);
    for (let i = 0; i < 50 && auditLines().filter((l) => l.event === "tls").length < before + 4; i++) await Bun.sleep(20);
    const refused = auditLines().filter((l) => l.event === "tls").slice(before);
    expect(refused.length).toBe(4);
    expect(refused.every((l) => l.result === "denied" && /^127\.0\.0\.1:\d+$/.test(String(l.peer)))).toBe(true);
    expect(refused.map((l) => String(l.reason)).join("\n")).toMatch(/CERTIFICATE/);
  });

  test("a viewer may read logs and status; a certificate naming no role gets 403 and a denied audit record", async () => {
    const uuid = await runJob("echo", ["hi"]);
    await readLogs(grpc(), uuid);
    for (const client of [d.pki.clients.viewer, d.pki.clients.reader]) {
      expect((await get(`/v1/jobs/${uuid}/status`, client)).status).toBe(200);
      const p = new SseParser();
      await readStream(await get(`/v1/jobs/${uuid}/logs`, client), p);
      expect(logBytes(p.events, 0).bytes.toString()).toBe("hi\n");
    }
    for (const path of [`/v1/jobs/${uuid}/logs`, `/v1/jobs/${uuid}/status`, "/v1/events"]) {
      const res = await get(path, d.pki.clients.unknown);
      expect(res.status).toBe(403);
      const body = (await res.json()) as { error: string; code: string };
      expect(body.code).toBe("PERMISSION_DENIED");
      expect(body.error).toStartWith("permission denied: the client certificate's OU names no role");
    }
    const denied = auditLines().filter((l) => l.event === "auth" && l.result === "denied" && (l.who as { cn: string }).cn === "mystery-client");
    expect(denied.map((l) => l.method)).toEqual([`GET /v1/jobs/${uuid}/logs`, `GET /v1/jobs/${uuid}/status`, "GET /v1/events"]);
    expect(denied[0]).toMatchObject({ permission: "job:logs" });
    const allowed = auditLines().filter((l) => l.event === "auth" && l.result === "allowed" && l.method === `GET /v1/jobs/${uuid}/status`);
    expect(allowed.map((l) => (l.who as { role: string }).role)).toEqual(["viewer", "viewer"]);
  });

  test("unknown jobs, short ids, unknown paths, other methods and request bodies get JSON errors", async () => {
    const expectError = async (res: Response, status: number, code: string, message?: RegExp) => {
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toStartWith("application/json");
      const body = (await res.json()) as { error: string; code: string };
      expect(body.code).toBe(code);
      if (message) expect(body.error).toMatch(message);
    };
    await expectError(await get("/v1/jobs/00000000-0000-0000-0000-000000000000/logs"), 404, "NOT_FOUND", /job 00000000-0000-0000-0000-000000000000 not found/);
    await expectError(await get("/v1/jobs/deadbeefcafe/status"), 404, "NOT_FOUND");
    await expectError(await get("/v1/jobs/abc/status"), 400, "INVALID_ARGUMENT", /too short/);
    await expectError(await get("/v1/nothing"), 404, "NOT_FOUND", /no such path/);
    await expectError(await get("/v1/jobs/../../etc/passwd"), 404, "NOT_FOUND");
    const tls = { ca: d.pki.ca.cert, cert: d.pki.clients.admin.cert, key: d.pki.clients.admin.key };
    const post = await fetch(`${base}/v1/events`, { method: "POST", body: "x", keepalive: false, tls } as RequestInit);
    await expectError(post, 405, "METHOD_NOT_ALLOWED");
    expect(post.headers.get("allow")).toBe("GET");
    // curl with a body on GET
    const withBody = Bun.spawnSync(["curl", "-sS", "--cacert", pem("ca.pem"), "--cert", pem("admin.crt"), "--key", pem("admin.key"), "-X", "GET", "--data", "x=1", "-w", "\n%{http_code}", `${base}/v1/events`]);
    const [body, code] = withBody.stdout.toString().split("\n\n");
    expect(code).toBe("400");
    expect(JSON.parse(body!)).toEqual({ error: "request bodies are not accepted", code: "INVALID_ARGUMENT" });
  });
});

// ---- in-process: timers made short -------------------------------------------------------------

describe("stream behaviour (in-process endpoint)", () => {
  let dir: string;
  let pki: TestPki;
  let endpoint: HttpsEndpoint | undefined;
  let audit: AuditLog | undefined;
  let logPath: string;
  const listeners = new Set<(j: JobRecord) => void>();
  const JOB = "12345678-1234-1234-1234-123456789abc";

  beforeAll(async () => {
    pki = makePki();
    dir = mkdtempSync(join(tmpdir(), "joblet-sse-inproc-"));
    logPath = join(dir, `${JOB}.log`);
    writeFileSync(logPath, Buffer.alloc(16 * 1024 * 1024, "0123456789abcdef\n"));
    const configPath = join(dir, "joblet-config.yml");
    const indent = (pemText: string) => pemText.trim().split("\n").join("\n    ");
    writeFileSync(
      configPath,
      `version: "3.0"
server:
  address: 127.0.0.1
  port: ${await freePort()}
  http_port: ${await freePort()}
security:
  serverCert: |
    ${indent(pki.server.cert)}
  serverKey: |
    ${indent(pki.server.key)}
  caCert: |
    ${indent(pki.ca.cert)}
  audit:
    log_file: ${join(dir, "audit.log")}
    log_all_operations: true
`,
    );
    const config = loadServerConfig({ path: configPath, env: {} }).config;
    const jobs: JobSource = {
      resolve: (id: string) => {
        if (id !== JOB) throw notFound(`job ${id} not found`);
        return { uuid: JOB } as JobRecord;
      },
      logOf: () => new JobLog(logPath, 64 * 1024, true),
      watch: (l: (j: JobRecord) => void) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    } as unknown as JobSource;
    audit = new AuditLog(config.security.audit);
    endpoint = await HttpsEndpoint.start(config, Logger.console("error"), jobs, audit, { heartbeatMs: 50, stallMs: 300, requestMs: 300 });
  });
  afterAll(async () => {
    await endpoint?.stop(500);
    audit?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const open = (path: string) =>
    fetch(`https://127.0.0.1:${endpoint!.port}${path}`, { tls: { ca: pki.ca.cert, cert: pki.clients.admin.cert, key: pki.clients.admin.key } } as RequestInit);

  test("idle streams get heartbeat comments; a disconnect unsubscribes", async () => {
    const p = new SseParser();
    await readStream(await open("/v1/events"), p, (q) => q.comments.filter((c) => c === "heartbeat").length >= 2);
    expect(p.events).toEqual([]);
    for (let i = 0; i < 100 && listeners.size > 0; i++) await Bun.sleep(20);
    expect(listeners.size).toBe(0);
  });

  test("a client that stops reading is cut off, not buffered for", async () => {
    const socket = tlsConnect({ host: "127.0.0.1", port: endpoint!.port, ca: pki.ca.cert, cert: pki.clients.admin.cert, key: pki.clients.admin.key, servername: "joblet" });
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", () => resolve());
      socket.once("error", reject);
    });
    socket.write(`GET /v1/jobs/${JOB}/logs HTTP/1.1\r\nHost: joblet\r\n\r\n`);
    socket.pause(); // reads nothing from now on
    await Bun.sleep(1500); // well past stallMs
    let received = 0;
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (b: Buffer) => (received += b.length));
    socket.on("error", () => {});
    socket.resume();
    await closed;
    expect(received).toBeLessThan(16 * 1024 * 1024); // the rest was never sent: the server hung up
  });

  test("a connection that sends no complete request is closed; oversized headers get 431", async () => {
    const connect = async () => {
      const socket = tlsConnect({ host: "127.0.0.1", port: endpoint!.port, ca: pki.ca.cert, cert: pki.clients.admin.cert, key: pki.clients.admin.key, servername: "joblet" });
      await new Promise<void>((resolve, reject) => {
        socket.once("secureConnect", () => resolve());
        socket.once("error", reject);
      });
      let text = "";
      socket.on("data", (b: Buffer) => (text += b.toString()));
      socket.on("error", () => {});
      return { socket, closed: new Promise<string>((resolve) => socket.once("close", () => resolve(text))) };
    };
    const slow = await connect();
    slow.socket.write("GET /v1/events HTTP/1.1\r\nHost: joblet\r\n"); // and never the blank line
    expect(await slow.closed).toBe("");
    const big = await connect();
    big.socket.write(`GET /v1/events HTTP/1.1\r\nHost: joblet\r\nX-Big: ${"a".repeat(40_000)}\r\n\r\n`);
    expect(await big.closed).toStartWith("HTTP/1.1 431 ");
  });

  test("with log_all_operations, every call is audited with its outcome", async () => {
    const res = await open("/v1/jobs/87654321-0000-0000-0000-000000000000/status");
    expect(res.status).toBe(404);
    const lines = readFileSync(join(dir, "audit.log"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({
      event: "operation",
      result: "error",
      method: "GET /v1/jobs/87654321-0000-0000-0000-000000000000/status",
      target: "87654321-0000-0000-0000-000000000000",
      code: 5,
      message: "job 87654321-0000-0000-0000-000000000000 not found",
      who: { cn: "admin-client", role: "admin" },
    });
    expect(lines.at(-2)).toMatchObject({ event: "auth", result: "allowed", permission: "job:read" });
  });

  test("stop() ends open streams cleanly", async () => {
    const res = await open("/v1/events");
    const reader = res.body!.getReader();
    const p = new SseParser();
    while (!p.comments.includes("job events")) p.push(await next(reader));
    const stopped = endpoint!.stop(2000);
    endpoint = undefined;
    for (let r = await reader.read(); !r.done; r = await reader.read()) p.push(r.value);
    await stopped;
    expect(listeners.size).toBe(0);
  });
});

describe("the log encoding", () => {
  test("any bytes, cut anywhere, come back exactly, with ids at byte offsets", () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pieces = ["abc\n", "é", "✓", "😀", "\r\n", "\r", "\n", "\u0000", " x", "\xff", "\x80"];
    for (let round = 0; round < 50; round++) {
      const parts: Buffer[] = [];
      for (let i = 0; i < 200; i++) {
        const piece = pieces[rand(pieces.length)]!;
        parts.push(piece === "\xff" || piece === "\x80" ? Buffer.from([piece.charCodeAt(0)]) : Buffer.from(piece));
      }
      const all = Buffer.concat(parts);
      const start = rand(20);
      for (const base64 of [false, true]) {
        const encoder = new LogEventEncoder(start, base64);
        const p = new SseParser();
        for (let at = start; at < all.length; ) {
          const n = 1 + rand(40);
          p.push(Buffer.from(encoder.encode(all.subarray(at, at + n))));
          at += n;
        }
        p.push(Buffer.from(encoder.flush()));
        const { bytes, lastId } = logBytes(p.events, start);
        expect(lastId).toBe(all.length);
        expect(bytes.equals(all.subarray(start))).toBe(true);
        if (base64) expect(p.events.every((e) => e.event === "log-b64")).toBe(true);
      }
    }
  });
});
