// Connection abuse: does the daemon stay responsive to a legitimate client, and give back what
// abusers took, while it is hammered at the connection level? Phases, each against a fresh
// measurement of a legitimate client's RunJob latency (p50/p99 of `/bin/true` jobs, one at a time,
// on an established mTLS connection, plus every 5th call on a fresh connection: handshake +
// RunJob), measured by a separate process so the abusers' event loop does not delay it:
//
//   rest        no abuse (and again at the end, "rest again": the machine's noise shows in the pair)
//   certless    waves of --conns TLS connections at once to each port (gRPC and HTTPS), without
//               a client certificate (every 10th with one from another CA), until the sampler
//               has its samples; every one must be refused, never answered
//   slowloris   --slow connections that hang: plain TCP sending nothing, half a ClientHello, and
//               (with a valid certificate) half an HTTP/2 preface / half a request's headers; the
//               daemon must close each within its timeout (server.tls.handshake_timeout, set to
//               ABUSE_HANDSHAKE_MS here so the run stays short)
//   disconnect  --streams times per kind: GetJobLogs of a chatty job and StreamJobMetrics
//               cancelled mid-stream (RST_STREAM) or cut (the TCP connection reset under it),
//               and SSE /v1/jobs/{id}/logs with the socket destroyed or reset mid-stream
//
// After each phase: the daemon is alive, its open fds and RSS are printed at the baseline, at the
// peak and after the abusers are gone (fds must come back near the baseline), and a job runs.
// Exits 1 only if the daemon died, a legitimate job failed after a phase, fds did not come back, or an abusive
// connection was answered or never closed; latencies are reported, never judged.
//
// Run: ./node_modules/.bin/bun test/bench/abuse.ts [--conns=1000] [--slow=600] [--streams=300] [--samples=100]
// test/e2e/abuse.test.ts runs the same abusers with smaller counts and asserts on them.
import * as grpc from "@grpc/grpc-js";
import { readdirSync, readFileSync } from "node:fs";
import { connect as netConnect, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { DEFAULT_TIMING } from "../../src/daemon/http/server";
import type { JobServiceClient } from "../../src/gen/joblet";
import type { CertBundle } from "../../src/pki/authority";
import { numberArg, reportFigures } from "../helpers/bench-report";
import { call, isError, jobClient, jobEnded, runRequest } from "../helpers/client";
import { startDaemon, type TestDaemon } from "../helpers/daemon";
import type { TestPki } from "../helpers/pki";

// ---- the daemon, seen from outside ----------------------------------------------------------

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident memory of a process, in KiB. */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Samples a process's fds and RSS every `ms` until stopped; the peaks. */
export function watchPeaks(pid: number, ms = 100): { stop(): { fds: number; rssKb: number } } {
  let fds = 0;
  let rss = 0;
  const sample = () => {
    try {
      fds = Math.max(fds, fdCount(pid));
      rss = Math.max(rss, rssKb(pid));
    } catch {
      // gone: alive() reports it
    }
  };
  sample();
  const timer = setInterval(sample, ms);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { fds, rssKb: rss };
    },
  };
}

/** Waits (up to `ms`) until the daemon's fd count is at most `limit`; the count last seen. */
export async function fdsSettle(pid: number, limit: number, ms = 15_000): Promise<number> {
  const deadline = Date.now() + ms;
  let n = fdCount(pid);
  while (n > limit && Date.now() < deadline) {
    await Bun.sleep(100);
    n = fdCount(pid);
  }
  return n;
}

// ---- certless (and rogue-certificate) connections -------------------------------------------

export interface RefusalOutcome {
  /** connections opened */
  opened: number;
  /** closed by the server without an answer (what must happen to every one) */
  refused: number;
  /** got application data back: a refused client must never be served */
  answered: number;
  /** still open after the cap: the server never closed them */
  neverClosed: number;
  /** client-side error codes seen, with counts */
  errors: Record<string, number>;
}

/**
 * One TLS connection without a client certificate (or with `client`, e.g. one from another CA):
 * once the client side thinks it is secured (TLS 1.3 verifies the client after that), it sends the
 * start of a request, then waits for the server to hang up (at most `capMs`).
 */
export function refusedConnection(port: number, pki: TestPki, alpn: "h2" | "http/1.1", client?: CertBundle, capMs = 30_000): Promise<{ answered: boolean; closed: boolean; error?: string }> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port, servername: "joblet", ca: pki.ca.cert, ALPNProtocols: [alpn], ...(client ? { cert: client.cert, key: client.key } : {}) });
    let answered = false;
    let error: string | undefined;
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ answered, closed: false, error });
    }, capMs);
    s.on("secureConnect", () => {
      s.write(alpn === "h2" ? Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]) : "GET /v1/events HTTP/1.1\r\nHost: joblet\r\n\r\n");
    });
    s.on("data", () => (answered = true));
    s.on("error", (e: Error & { code?: string }) => (error ??= e.code ?? e.message));
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ answered, closed: true, error });
    });
  });
}

/** `n` refused connections to each of the daemon's ports at once; every `rogueEvery`th presents the rogue CA's certificate. */
export async function certlessWave(d: TestDaemon, n: number, rogueEvery = 10): Promise<RefusalOutcome> {
  const out: RefusalOutcome = { opened: 0, refused: 0, answered: 0, neverClosed: 0, errors: {} };
  const all: Promise<void>[] = [];
  for (const [port, alpn] of [[d.port, "h2"], [d.httpPort, "http/1.1"]] as const) {
    for (let i = 0; i < n; i++) {
      out.opened++;
      const client = rogueEvery > 0 && i % rogueEvery === rogueEvery - 1 ? d.pki.clients.rogue : undefined;
      all.push(
        refusedConnection(port, d.pki, alpn, client).then((r) => {
          if (r.answered) out.answered++;
          else if (!r.closed) out.neverClosed++;
          else out.refused++;
          const code = r.error ?? "closed without error";
          out.errors[code] = (out.errors[code] ?? 0) + 1;
        }),
      );
    }
  }
  await Promise.all(all);
  return out;
}

// ---- slowloris ------------------------------------------------------------------------------

export type SlowKind = "tcp-silent" | "partial-hello" | "tls-partial-preface" | "tls-partial-request";

/** The first 43 bytes of a TLS ClientHello (record header, handshake header, version, part of the random). */
const PARTIAL_CLIENT_HELLO = Buffer.concat([Buffer.from("1603010200010001fc0303", "hex"), Buffer.alloc(32, 0x5a)]);

export interface HeldConnections {
  kind: SlowKind;
  port: number;
  opened: number;
  /** per connection: ms from its open until the server closed it (Infinity: still open at the cap, then dropped by us) */
  closes: Promise<number[]>;
  /** got bytes of an HTTP answer (only tls-partial-request may: never, since its request never completes) */
  answered(): number;
}

/**
 * `n` connections to `port` that start and then hang. tcp-silent sends nothing; partial-hello
 * sends half a ClientHello; with a valid admin certificate, tls-partial-preface completes TLS and
 * sends half the HTTP/2 preface (gRPC port), tls-partial-request half a request's headers (HTTPS).
 * Each waits for the server to close it, up to `capMs`.
 */
export function slowloris(d: TestDaemon, kind: SlowKind, port: number, n: number, capMs = 60_000): HeldConnections {
  let answered = 0;
  const one = (): Promise<number> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const admin = d.pki.clients.admin;
      let s: Socket | TLSSocket;
      if (kind === "tcp-silent" || kind === "partial-hello") {
        s = netConnect({ host: "127.0.0.1", port });
        if (kind === "partial-hello") s.once("connect", () => s.write(PARTIAL_CLIENT_HELLO));
      } else {
        const h2 = kind === "tls-partial-preface";
        const t = tlsConnect({ host: "127.0.0.1", port, servername: "joblet", ca: d.pki.ca.cert, cert: admin.cert, key: admin.key, ALPNProtocols: [h2 ? "h2" : "http/1.1"] });
        t.once("secureConnect", () => t.write(h2 ? "PRI * HTTP/2.0\r\n" : "GET /v1/events HTTP/1.1\r\nHost: joblet\r\nX-Slow: "));
        s = t;
      }
      const timer = setTimeout(() => {
        s.destroy();
        resolve(Infinity);
      }, capMs);
      s.on("data", (b: Buffer) => {
        if (kind === "tls-partial-request" && b.toString("latin1").startsWith("HTTP/")) answered++;
      }); // reading: a paused socket would never see the server's FIN
      s.on("error", () => {});
      s.on("close", () => {
        clearTimeout(timer);
        resolve(performance.now() - t0);
      });
    });
  const closes = Promise.all(Array.from({ length: n }, one));
  return { kind, port, opened: n, closes, answered: () => answered };
}

/** The longest the daemon may take to close a slowloris connection of this kind: its timeout
 * (twice for the TLS kinds: the handshake, then the preface or request), never a latency target. */
/** server.tls.handshake_timeout for the abuse runs (the default, 30 s, would only make them longer). */
export const ABUSE_HANDSHAKE_MS = 10_000;

/** The configuration of a daemon under abuse, with `extra` sections merged over it. */
export const abuseConfig = (extra: Record<string, Record<string, unknown>> = {}) => ({
  ...extra,
  telemetry: { metrics_interval: "1s", ...extra.telemetry },
  server: { tls: { handshake_timeout: `${ABUSE_HANDSHAKE_MS / 1000}s` }, ...extra.server },
});

export function closeBound(kind: SlowKind, handshakeMs = ABUSE_HANDSHAKE_MS): number {
  if (kind === "tcp-silent" || kind === "partial-hello") return handshakeMs;
  if (kind === "tls-partial-preface") return 2 * handshakeMs;
  return handshakeMs + DEFAULT_TIMING.requestMs;
}

// ---- mid-stream disconnects -----------------------------------------------------------------

export type StreamKind = "grpc-logs-cancel" | "grpc-logs-reset" | "grpc-metrics-cancel" | "grpc-metrics-reset" | "sse-logs-destroy" | "sse-logs-reset";
export const STREAM_KINDS: StreamKind[] = ["grpc-logs-cancel", "grpc-logs-reset", "grpc-metrics-cancel", "grpc-metrics-reset", "sse-logs-destroy", "sse-logs-reset"];

/** A loopback TCP relay to `target`: cut() resets every connection through it on the daemon's side. */
export class Relay {
  private constructor(
    private readonly server: NetServer,
    private readonly pairs: Set<[Socket, Socket]>,
    readonly port: number,
  ) {}

  static async start(target: number): Promise<Relay> {
    const pairs = new Set<[Socket, Socket]>();
    const server = createNetServer((down) => {
      const up = netConnect({ host: "127.0.0.1", port: target });
      const pair: [Socket, Socket] = [down, up];
      pairs.add(pair);
      down.pipe(up);
      up.pipe(down);
      const drop = () => {
        pairs.delete(pair);
        down.destroy();
        up.destroy();
      };
      for (const s of pair) {
        s.on("error", drop);
        s.on("close", drop);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    return new Relay(server, pairs, (server.address() as { port: number }).port);
  }

  /** Resets (RST) the daemon's side of every connection, and drops the client's. */
  cut(): void {
    for (const [down, up] of this.pairs) {
      if (typeof up.resetAndDestroy === "function") up.resetAndDestroy();
      else up.destroy();
      down.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Resolves once a stream delivered its first message (or `ms` passed, or it ended). */
function firstData(stream: grpc.ClientReadableStream<unknown>, ms = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false), ms);
    const done = (got: boolean) => {
      clearTimeout(timer);
      stream.off("data", onData);
      resolve(got);
    };
    const onData = () => done(true);
    stream.on("data", onData);
    stream.once("error", () => done(false));
    stream.once("end", () => done(false));
  });
}

/** What a run of disconnects saw: how many streams got data before they were dropped. */
export interface DisconnectOutcome {
  kind: StreamKind;
  runs: number;
  /** streams that delivered data before the disconnect (the rest were dropped before any came) */
  midStream: number;
  /** refusals the daemon answered with instead of a stream (e.g. SSE 503 when too many are open) */
  refused: number;
}

const SSE_HEAD_END = "\r\n\r\n";

/** One SSE logs request on a raw TLS socket, dropped once the first event bytes arrived: destroy() (FIN) or resetAndDestroy() (RST). */
function sseDisconnect(d: TestDaemon, jobId: string, reset: boolean): Promise<{ mid: boolean; refused: boolean }> {
  return new Promise((resolve) => {
    const admin = d.pki.clients.admin;
    const s = tlsConnect({ host: "127.0.0.1", port: d.httpPort, servername: "joblet", ca: d.pki.ca.cert, cert: admin.cert, key: admin.key, ALPNProtocols: ["http/1.1"] });
    let text = "";
    let settled = false;
    const finish = (mid: boolean, refused: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (reset && typeof s.resetAndDestroy === "function") s.resetAndDestroy();
      else s.destroy();
      resolve({ mid, refused });
    };
    const timer = setTimeout(() => finish(false, false), 5000);
    s.once("secureConnect", () => s.write(`GET /v1/jobs/${jobId}/logs HTTP/1.1\r\nHost: joblet\r\n\r\n`));
    s.on("data", (b: Buffer) => {
      text += b.toString("latin1");
      const head = text.indexOf(SSE_HEAD_END);
      if (head < 0) return;
      if (!text.startsWith("HTTP/1.1 200")) return finish(false, true);
      if (text.includes("event: log", head)) finish(true, false);
    });
    s.on("error", () => finish(false, false));
    s.on("close", () => finish(false, false));
  });
}

/**
 * `runs` mid-stream disconnects of one kind, `lanes` at a time, against `jobId` (a job that keeps
 * writing output and is sampled for metrics). `shared` is a client whose one connection the
 * cancel kinds use, as a real client would; the reset kinds each connect through their own relay.
 */
export async function disconnects(d: TestDaemon, shared: JobServiceClient, kind: StreamKind, jobId: string, runs: number, lanes = 4): Promise<DisconnectOutcome> {
  const out: DisconnectOutcome = { kind, runs, midStream: 0, refused: 0 };
  let next = 0;
  const open = (client: JobServiceClient) =>
    kind.startsWith("grpc-logs") ? client.getJobLogs({ uuid: jobId }) : client.streamJobMetrics({ jobUuid: jobId });
  const lane = async () => {
    const relay = kind.endsWith("-reset") && kind.startsWith("grpc") ? await Relay.start(d.port) : undefined;
    try {
      while (next < runs) {
        next++;
        if (kind.startsWith("sse")) {
          const r = await sseDisconnect(d, jobId, kind === "sse-logs-reset");
          if (r.mid) out.midStream++;
          if (r.refused) out.refused++;
          continue;
        }
        if (relay) {
          const client = jobClient(`127.0.0.1:${relay.port}`, d.pki.ca.cert, d.pki.clients.admin);
          const stream = open(client) as grpc.ClientReadableStream<unknown>;
          stream.on("error", () => {});
          if (await firstData(stream)) out.midStream++;
          relay.cut();
          client.close();
          continue;
        }
        const stream = open(shared) as grpc.ClientReadableStream<unknown>;
        stream.on("error", () => {}); // CANCELLED, expected
        if (await firstData(stream)) out.midStream++;
        stream.cancel();
      }
    } finally {
      await relay?.close();
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return out;
}

// ---- the legitimate client ------------------------------------------------------------------

/** A RunJob of `/bin/true` that must succeed, and the job must complete. */
export async function legitJob(client: JobServiceClient): Promise<string> {
  const r = await call(client.runJob, client, runRequest({ command: "/bin/true" }));
  if (isError(r)) throw new Error(`RunJob: ${r.details}`);
  const s = await jobEnded(client, r.jobUuid);
  if (s.status !== "COMPLETED") throw new Error(`job ${r.jobUuid} ended ${s.status} (${s.failureReason} ${s.failureMessage})`);
  return r.jobUuid;
}

/** A job that writes a few KB of output every 50 ms until stopped. */
export async function chattyJob(client: JobServiceClient): Promise<string> {
  const r = await call(client.runJob, client, runRequest({ command: "sh", args: ["-c", "while :; do seq 1 400; sleep 0.05; done"] }));
  if (isError(r)) throw new Error(`RunJob (chatty job): ${r.details}`);
  return r.jobUuid;
}

// ---- the bench ------------------------------------------------------------------------------

interface SamplerTarget {
  address: string;
  ca: string;
  cert: string;
  key: string;
  min: number;
}

/**
 * The latency sampler, in its own process (`--sampler`, target in ABUSE_SAMPLER): RunJob of
 * `/bin/true`, one at a time, until its stdin closes and it has at least `min` samples; every 5th
 * call on a fresh connection. Prints `rt <ms>`, `fresh <ms>` or `fail <message>` per call.
 */
async function samplerMain(): Promise<void> {
  const t = JSON.parse(process.env.ABUSE_SAMPLER ?? "{}") as SamplerTarget;
  const bundle = { cert: t.cert, key: t.key } as CertBundle;
  let stop = false;
  process.stdin.on("end", () => (stop = true));
  process.stdin.on("data", () => {});
  process.stdin.resume();
  const client = jobClient(t.address, t.ca, bundle);
  const request = runRequest({ command: "/bin/true" });
  for (let i = 0; i < 5; i++) await call(client.runJob, client, request); // warm up
  let n = 0;
  while (!stop || n < t.min) {
    const fresh = n % 5 === 4;
    const c = fresh ? jobClient(t.address, t.ca, bundle) : client;
    const t0 = performance.now();
    const r = await call(c.runJob, c, request);
    const ms = performance.now() - t0;
    if (fresh) c.close();
    console.log(isError(r) ? `fail ${r.details.replace(/\n/g, " ")}` : `${fresh ? "fresh" : "rt"} ${ms.toFixed(3)}`);
    n++;
    await Bun.sleep(5); // jobs one at a time, and the daemon reaps each before the next
  }
  client.close();
}

interface Samples {
  rt: number[];
  fresh: number[];
  failures: string[];
}

function startSampler(d: TestDaemon, min: number): { count(): number; stop(): Promise<Samples> } {
  const admin = d.pki.clients.admin;
  const target: SamplerTarget = { address: d.address, ca: d.pki.ca.cert, cert: admin.cert, key: admin.key, min };
  const p = Bun.spawn([process.execPath, import.meta.path, "--sampler"], { stdin: "pipe", stdout: "pipe", stderr: "inherit", env: { ...process.env, ABUSE_SAMPLER: JSON.stringify(target) } });
  const samples: Samples = { rt: [], fresh: [], failures: [] };
  const reading = (async () => {
    let buf = "";
    for await (const chunk of p.stdout) {
      buf += Buffer.from(chunk).toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [what, rest] = [line.slice(0, line.indexOf(" ")), line.slice(line.indexOf(" ") + 1)];
        if (what === "rt") samples.rt.push(Number(rest));
        else if (what === "fresh") samples.fresh.push(Number(rest));
        else if (what === "fail") samples.failures.push(rest);
      }
    }
  })();
  return {
    count: () => samples.rt.length + samples.fresh.length + samples.failures.length,
    async stop() {
      p.stdin.end();
      await p.exited;
      await reading;
      return samples;
    },
  };
}

const q = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : NaN);

interface PhaseRow {
  phase: string;
  abuse: string;
  samples: Samples;
  closedWithin: string;
  fds: { base: number; peak: number; after: number };
  rss: { base: number; peak: number; after: number };
  legitAfter: string;
  problems: string[];
}

async function benchMain(): Promise<void> {
  const CONNS = numberArg("conns", 1000);
  const SLOW = numberArg("slow", 600);
  const STREAMS = numberArg("streams", 300);
  const SAMPLES = numberArg("samples", 100);

  const d = await startDaemon({ config: abuseConfig({ logging: { level: "info" } }) });
  const client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
  const rows: PhaseRow[] = [];
  let fatal = false;
  try {
    const chatty = await chattyJob(client);
    await legitJob(client);
    await Bun.sleep(2000); // the chatty job has output and held metrics samples
    const base = { fds: fdCount(d.pid), rss: rssKb(d.pid) };
    console.log(`daemon pid ${d.pid}: ${base.fds} fds, ${(base.rss / 1024).toFixed(1)} MB RSS at rest (a chatty job running)`);
    const countTls = () => readFileSync(d.auditPath, "utf8").split("\n").filter((l) => l.includes('"event":"tls"')).length;

    const phase = async (name: string, abuse: (sampling: () => boolean) => Promise<{ abuse: string; closedWithin?: string; problems?: string[] }>) => {
      console.log(`phase ${name} …`);
      const peaks = watchPeaks(d.pid);
      const sampler = startSampler(d, SAMPLES);
      let sampling = true;
      const sampled = (async () => {
        while (sampler.count() < SAMPLES) await Bun.sleep(50);
        sampling = false;
      })();
      const r = await abuse(() => sampling);
      await sampled;
      const samples = await sampler.stop();
      const peak = peaks.stop();
      const problems = [...(r.problems ?? [])];
      if (!alive(d.pid)) {
        fatal = true;
        problems.push("THE DAEMON DIED");
      }
      const afterFds = await fdsSettle(d.pid, base.fds + 5);
      // RSS: garbage the abusers left is collected when the engine gets to it; wait a while for it
      for (let i = 0; i < 100 && rssKb(d.pid) > base.rss + 32 * 1024; i++) await Bun.sleep(100);
      let legitAfter = "ok";
      try {
        await legitJob(client);
      } catch (e) {
        legitAfter = `FAILED: ${(e as Error).message}`;
        fatal = true;
      }
      if (afterFds > base.fds + 5) problems.push(`fds did not come back: ${afterFds} (baseline ${base.fds})`);
      const row: PhaseRow = {
        phase: name,
        abuse: r.abuse,
        samples,
        closedWithin: r.closedWithin ?? "-",
        fds: { base: base.fds, peak: peak.fds, after: afterFds },
        rss: { base: base.rss, peak: peak.rssKb, after: rssKb(d.pid) },
        legitAfter,
        problems,
      };
      rows.push(row);
      for (const p of problems) console.log(`  ! ${p}`);
    };

    await phase("rest", async (sampling) => {
      while (sampling()) await Bun.sleep(50);
      return { abuse: "none" };
    });

    await phase("certless", async (sampling) => {
      const tlsBefore = countTls();
      const total: RefusalOutcome = { opened: 0, refused: 0, answered: 0, neverClosed: 0, errors: {} };
      let waves = 0;
      do {
        const w = await certlessWave(d, CONNS);
        waves++;
        total.opened += w.opened;
        total.refused += w.refused;
        total.answered += w.answered;
        total.neverClosed += w.neverClosed;
        for (const [k, v] of Object.entries(w.errors)) total.errors[k] = (total.errors[k] ?? 0) + v;
      } while (sampling());
      await Bun.sleep(200);
      const audited = countTls() - tlsBefore;
      const problems: string[] = [];
      if (total.answered) problems.push(`${total.answered} certless connections were answered`);
      if (total.neverClosed) problems.push(`${total.neverClosed} certless connections were never closed`);
      console.log(`  client errors: ${JSON.stringify(total.errors)}`);
      return {
        abuse: `${waves} waves × ${CONNS}/port (10% rogue CA): ${total.opened} refused ${total.refused}, audited ${audited}`,
        closedWithin: total.neverClosed ? `${total.neverClosed} never` : "all refused",
        problems,
      };
    });

    await phase("slowloris", async (sampling) => {
      const tlsBefore = countTls();
      const kinds: [SlowKind, number][] = [
        ["tcp-silent", d.port],
        ["partial-hello", d.port],
        ["tls-partial-preface", d.port],
        ["tcp-silent", d.httpPort],
        ["partial-hello", d.httpPort],
        ["tls-partial-request", d.httpPort],
      ];
      const per = Math.ceil(SLOW / kinds.length);
      const held = kinds.map(([k, port]) => slowloris(d, k, port, per));
      while (sampling()) await Bun.sleep(50);
      const closes = await Promise.all(held.map((h) => h.closes));
      await Bun.sleep(200);
      const audited = countTls() - tlsBefore;
      const problems: string[] = [];
      const within: string[] = [];
      held.forEach((h, i) => {
        const c = closes[i]!;
        const open = c.filter((ms) => !Number.isFinite(ms)).length;
        const late = c.filter((ms) => ms > closeBound(h.kind) + 5000).length;
        if (open) problems.push(`${open} ${h.kind} connections on port ${h.port} never closed`);
        if (late) problems.push(`${late} ${h.kind} connections closed later than their timeout (${closeBound(h.kind)} ms) + 5 s`);
        if (h.answered()) problems.push(`${h.answered()} ${h.kind} got an HTTP answer`);
        within.push(`${h.kind === "tcp-silent" ? "silent" : h.kind === "partial-hello" ? "hello" : h.kind === "tls-partial-preface" ? "h2" : "req"} ${(Math.max(...c.filter(Number.isFinite), 0) / 1000).toFixed(1)}`);
      });
      return { abuse: `${per * kinds.length} held (${per} × 6 kinds), timeouts audited ${audited}`, closedWithin: `max s: ${within.join(", ")}`, problems };
    });

    await phase("disconnect", async (sampling) => {
      const outs = await Promise.all(STREAM_KINDS.map((k) => disconnects(d, client, k, chatty, STREAMS)));
      while (sampling()) await Bun.sleep(50);
      const problems: string[] = [];
      for (const o of outs) if (o.refused) problems.push(`${o.kind}: ${o.refused} refused (stream slots not released?)`);
      const mid = outs.reduce((a, o) => a + o.midStream, 0);
      console.log(`  ${outs.map((o) => `${o.kind} ${o.midStream}/${o.runs}`).join(", ")}`);
      return { abuse: `${STREAMS} × 6 kinds (logs, metrics: cancel / reset; SSE: destroy / reset); ${mid} mid-stream`, problems };
    });

    await phase("rest again", async (sampling) => {
      while (sampling()) await Bun.sleep(50);
      return { abuse: "none (the same daemon after the abuse: compare with rest)" };
    });

    await call(client.stopJob, client, { uuid: chatty });
  } finally {
    client.close();
    const code = await d.stop();
    if (code !== 0) {
      console.log(`daemon exited ${code}`);
      fatal = true;
    }
  }

  const mb = (kb: number) => (kb / 1024).toFixed(0);
  const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "-");
  const table: string[][] = [
    ["phase", "abuse", "RunJob p50 ms", "p99 ms", "new conn + RunJob p50 / p99 ms", "calls (failed)", "abusers closed by the daemon", "fds base → peak → after", "RSS MB base → peak → after", "job after"],
    ...rows.map((r) => [
      r.phase,
      r.abuse,
      ms(q(r.samples.rt, 50)),
      ms(q(r.samples.rt, 99)),
      `${ms(q(r.samples.fresh, 50))} / ${ms(q(r.samples.fresh, 99))}`,
      `${r.samples.rt.length + r.samples.fresh.length} (${r.samples.failures.length})`,
      r.closedWithin,
      `${r.fds.base} → ${r.fds.peak} → ${r.fds.after}`,
      `${mb(r.rss.base)} → ${mb(r.rss.peak)} → ${mb(r.rss.after)}`,
      r.legitAfter,
    ]),
  ];
  console.log(`\nconnection abuse (--conns=${CONNS} --slow=${SLOW} --streams=${STREAMS}; handshake timeout ${ABUSE_HANDSHAKE_MS / 1000} s)\n`);
  console.log(`| ${table[0]!.join(" | ")} |`);
  console.log(`|${table[0]!.map(() => "---").join("|")}|`);
  for (const row of table.slice(1)) console.log(`| ${row.join(" | ")} |`);
  for (const r of rows) for (const f of r.samples.failures.slice(0, 3)) console.log(`  ${r.phase}: RunJob failed: ${f}`);
  const problems = rows.flatMap((r) => r.problems.map((p) => `${r.phase}: ${p}`));
  console.log(problems.length ? `\nproblems:\n${problems.map((p) => `  ${p}`).join("\n")}` : "\nno problems: every abuser was refused or closed, fds came back, jobs ran after each phase");
  const by = (name: string) => rows.find((r) => r.phase === name);
  reportFigures("abuse", {
    restP50: q(by("rest")?.samples.rt ?? [], 50),
    restP99: q(by("rest")?.samples.rt ?? [], 99),
    certlessP50: q(by("certless")?.samples.rt ?? [], 50),
    certlessP99: q(by("certless")?.samples.rt ?? [], 99),
    slowlorisP50: q(by("slowloris")?.samples.rt ?? [], 50),
    slowlorisP99: q(by("slowloris")?.samples.rt ?? [], 99),
    disconnectP50: q(by("disconnect")?.samples.rt ?? [], 50),
    disconnectP99: q(by("disconnect")?.samples.rt ?? [], 99),
    problems: problems.length,
  });
  process.exitCode = fatal || problems.length ? 1 : 0;
}

if (import.meta.main) {
  if (process.argv.includes("--sampler")) await samplerMain();
  else await benchMain();
}
