// Connection abuse against the compiled daemon (the reduced version of test/bench/abuse.ts, with
// its abusers): TLS connections without a client certificate or with one from another CA,
// slowloris connections that hang before or after the TLS handshake, more handshakes at once than
// the daemon keeps, and streams dropped mid-way. Throughout, the daemon stays up and a legitimate
// client's jobs run; afterwards its open fds are back at the baseline. Bounds on when the daemon
// closes an abuser derive from its configured timeouts and are generous: they check that the
// daemon closes them at all, not how fast.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect as netConnect, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { MAX_PENDING_HANDSHAKES } from "../../src/daemon/auth/handshake-guard";
import type { JobServiceClient } from "../../src/gen/joblet";
import {
  abuseConfig,
  alive,
  certlessWave,
  chattyJob,
  closeBound,
  disconnects,
  fdCount,
  fdsSettle,
  legitJob,
  rssKb,
  slowloris,
  STREAM_KINDS,
  type SlowKind,
} from "../bench/abuse";
import { call, isError, jobClient, readLogs } from "../helpers/client";
import { startDaemon, type TestDaemon } from "../helpers/daemon";

/** fds the daemon may hold above its baseline once the abusers are gone (a legitimate job's, timers' in flight) */
const FD_MARGIN = 5;
/** slack on top of a timeout before a connection counts as never closed: the machine is shared and slow */
const SLACK_MS = 10_000;

let d: TestDaemon;
let client: JobServiceClient;
let chatty: string;
let baseline: number;

beforeAll(async () => {
  d = await startDaemon({ config: abuseConfig() });
  client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
  chatty = await chattyJob(client);
  await legitJob(client);
  await Bun.sleep(1500); // the chatty job has output and a metrics sample
  baseline = await settledFds();
});

afterAll(async () => {
  if (client && chatty) await call(client.stopJob, client, { uuid: chatty });
  client?.close();
  if (d) expect(await d.stop()).toBe(0);
});

/** The daemon's fd count once it stopped falling (transient fds of a job just ended are gone). */
async function settledFds(): Promise<number> {
  let last = fdCount(d.pid);
  for (let i = 0; i < 20; i++) {
    await Bun.sleep(100);
    const n = fdCount(d.pid);
    if (n >= last && i >= 3) return Math.min(n, last);
    last = Math.min(last, n);
  }
  return last;
}

function auditLines(): Record<string, unknown>[] {
  return readFileSync(d.auditPath, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}
const tlsRecords = () => auditLines().filter((l) => l.event === "tls");

/** Runs `abuse` while a legitimate client runs jobs on its established connection. */
async function during<T>(abuse: Promise<T>, jobs = 3): Promise<T> {
  for (let i = 0; i < jobs; i++) await legitJob(client);
  return abuse;
}

/** After a phase: the daemon is up, its fds come back to the baseline, and a job runs. */
async function recovered(phase: string): Promise<void> {
  expect(alive(d.pid)).toBe(true);
  const fds = await fdsSettle(d.pid, baseline + FD_MARGIN);
  console.log(`${phase}: ${fds} fds (baseline ${baseline}), ${(rssKb(d.pid) / 1024).toFixed(0)} MB RSS`);
  expect(fds).toBeLessThanOrEqual(baseline + FD_MARGIN);
  await legitJob(client);
}

describe("connection abuse", () => {
  test("connections without a client certificate (or with another CA's) are refused, every one audited, and jobs run meanwhile", async () => {
    const before = tlsRecords().length;
    const r = await during(certlessWave(d, 100, 10)); // 100 to each port, every 10th with the rogue CA's certificate
    expect(r).toMatchObject({ opened: 200, refused: 200, answered: 0, neverClosed: 0 });
    let refusals: Record<string, unknown>[] = [];
    for (let i = 0; i < 50 && refusals.length < 200; i++) {
      refusals = tlsRecords().slice(before);
      await Bun.sleep(20);
    }
    expect(refusals).toHaveLength(200);
    const reasons = refusals.map((l) => String(l.reason));
    expect(reasons.filter((x) => /PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/.test(x))).toHaveLength(180);
    expect(reasons.filter((x) => /UNABLE_TO_VERIFY|unable to verify/i.test(x))).toHaveLength(20);
    expect(refusals.every((l) => l.result === "denied" && /^127\.0\.0\.1:\d+$/.test(String(l.peer)))).toBe(true);
    await recovered("certless");
  }, 30_000);

  test("slowloris connections are closed by the daemon within its timeouts, handshake timeouts audited, and jobs run meanwhile", async () => {
    const before = tlsRecords().length;
    const prefaceLines = () => d.output().split("\n").filter((l) => l.includes("no HTTP/2 preface")).length;
    const prefaceBefore = prefaceLines();
    const kinds: [SlowKind, number, number][] = [
      ["tcp-silent", d.port, 17],
      ["partial-hello", d.port, 17],
      ["tls-partial-preface", d.port, 16],
      ["tcp-silent", d.httpPort, 17],
      ["partial-hello", d.httpPort, 17],
      ["tls-partial-request", d.httpPort, 16],
    ];
    const held = kinds.map(([kind, port, n]) => slowloris(d, kind, port, n, 2 * closeBound("tls-partial-preface") + SLACK_MS));
    // while they hang: a legitimate client's jobs run, and so does a new connection's
    const closes = await during(Promise.all(held.map((h) => h.closes)));
    const fresh = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
    try {
      await legitJob(fresh);
    } finally {
      fresh.close();
    }
    held.forEach((h, i) => {
      const times = closes[i]!;
      expect({ kind: h.kind, port: h.port, neverClosed: times.filter((t) => !Number.isFinite(t)).length }).toEqual({ kind: h.kind, port: h.port, neverClosed: 0 });
      expect({ kind: h.kind, port: h.port, slowest: Math.max(...times) <= closeBound(h.kind) + SLACK_MS }).toEqual({ kind: h.kind, port: h.port, slowest: true });
      expect(h.answered()).toBe(0);
    });
    // the ones that never finished a handshake are audited as refused, the others were not refused handshakes
    const timeouts = tlsRecords()
      .slice(before)
      .filter((l) => String(l.reason).startsWith("HANDSHAKE_TIMEOUT"));
    expect(timeouts).toHaveLength(17 * 4);
    expect(timeouts.every((l) => l.result === "denied" && /^127\.0\.0\.1:\d+$/.test(String(l.peer)))).toBe(true);
    // exactly the half-preface connections were closed for it: no legitimate connection was
    expect(prefaceLines() - prefaceBefore).toBe(16);
    await recovered("slowloris");
  }, 60_000);

  test(`beyond ${MAX_PENDING_HANDSHAKES} handshakes in progress, new connections are closed at once; established clients are unaffected`, async () => {
    const fds0 = fdCount(d.pid);
    const held: Socket[] = [];
    let heldClosed = 0;
    const open = () => {
      const s = netConnect({ host: "127.0.0.1", port: d.httpPort });
      s.on("error", () => {});
      s.on("data", () => {});
      return s;
    };
    try {
      for (let i = 0; i < MAX_PENDING_HANDSHAKES; i++) {
        const s = open();
        s.on("close", () => heldClosed++);
        held.push(s);
      }
      // the daemon has accepted all of them (each holds an fd there)
      for (let i = 0; i < 400 && fdCount(d.pid) < fds0 + MAX_PENDING_HANDSHAKES; i++) await Bun.sleep(25);
      expect(fdCount(d.pid)).toBeGreaterThanOrEqual(fds0 + MAX_PENDING_HANDSHAKES);
      const extra = Array.from({ length: 5 }, open);
      await Promise.all(extra.map((s) => new Promise((resolve) => (s.destroyed ? resolve(undefined) : s.once("close", resolve)))));
      expect(heldClosed).toBe(0); // the extra ones were closed while every held one was still open
      await legitJob(client); // the established connection carries on
    } finally {
      for (const s of held) s.destroy();
    }
    expect(d.output()).toContain("too many TLS handshakes in progress");
    await recovered("handshake cap");
  }, 30_000);

  test("streams dropped mid-way (gRPC logs and metrics cancelled or reset, SSE logs destroyed or reset) release everything, and jobs run meanwhile", async () => {
    const outs = await during(Promise.all(STREAM_KINDS.map((k) => disconnects(d, client, k, chatty, 50, 2))), 5);
    for (const o of outs) expect(o).toEqual({ kind: o.kind, runs: 50, midStream: 50, refused: 0 });
    await recovered("mid-stream disconnects");
    // streams still work, to the end: a finished job's logs over gRPC and SSE
    const uuid = await legitJob(client);
    expect((await readLogs(client, uuid)).length).toBe(0);
    const status = await new Promise<string>((resolve) => {
      const admin = d.pki.clients.admin;
      const s = tlsConnect({ host: "127.0.0.1", port: d.httpPort, servername: "joblet", ca: d.pki.ca.cert, cert: admin.cert, key: admin.key });
      let text = "";
      s.once("secureConnect", () => s.write(`GET /v1/jobs/${uuid}/logs HTTP/1.1\r\nHost: joblet\r\nConnection: close\r\n\r\n`));
      s.on("data", (b: Buffer) => (text += b.toString()));
      s.on("error", () => {});
      s.on("close", () => resolve(text));
    });
    expect(status).toStartWith("HTTP/1.1 200");
    expect(status).toContain("event: end");
    const r = await call(client.getJobStatus, client, { uuid: chatty });
    expect(isError(r) ? r : r.status).toBe("RUNNING");
  }, 60_000);
});
