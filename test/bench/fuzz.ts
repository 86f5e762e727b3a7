// Fuzz harness: malformed and adversarial input against a real daemon and the configuration and
// workflow readers. Sends <requests> requests spread over every RPC of every service (raw bytes
// on the wire: random bytes, broken encodings, adversarial values; see test/helpers/fuzz.ts),
// checks that each answer is a proper gRPC status (OK, or a code with details free of internals;
// never a dropped connection, INTERNAL, or no answer), that the daemon never dies, and that a
// normal job still runs afterwards; then fuzzes server configurations through
// `joblet --config=F --validate`, workflow files through `rnx workflow run F`, and workflow YAML
// straight to RunWorkflow, whose answers must name a key path (or a job and field) and never
// carry a stack trace. Prints a table (requests per RPC, status codes, slowest answer), the
// daemon's peak RSS, the time taken and the seed; exits 1 if anything failed.
//
// Run: ./node_modules/.bin/bun test/bench/fuzz.ts [--requests=100000] [--seed=N] [--concurrency=16]
//        [--configs=1000] [--workflows=1000] [--only=I,J,…]   (--only: replay requests of a seed)
// FUZZ_SEED=N works as --seed. A failure prints its request index: `--seed=S --only=I` resends it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { call, isError, jobClient, jobEnded, readLogs, runRequest } from "../helpers/client";
import { startDaemon, type TestDaemon } from "../helpers/daemon";
import { binary, formatReport, fuzzGrpc, fuzzRunWorkflow, fuzzValidate, fuzzWorkflowFiles, option, seedOption, type GrpcFuzzReport, type YamlFuzzReport } from "../helpers/fuzz";
import { JOBLET, RNX } from "../helpers/paths";
import { rnx } from "../helpers/run";

const int = (name: string, fallback: number) => {
  const v = Number(option(name, String(fallback)));
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name}: expected a non-negative integer`);
  return v;
};
const SEED = seedOption();
const REQUESTS = int("requests", 100_000);
const CONCURRENCY = int("concurrency", 16);
const CONFIGS = int("configs", 1000);
const WORKFLOWS = int("workflows", 1000);
const ONLY = option("only", "")
  .split(",")
  .filter(Boolean)
  .map(Number);

const log = (s: string) => process.stdout.write(`${s}\n`);
log(`fuzz seed ${SEED} (reproduce: bun test/bench/fuzz.ts --seed=${SEED}${REQUESTS === 100_000 ? "" : ` --requests=${REQUESTS}`})`);

/** The daemon's resident memory, sampled, and its peak as the kernel counts it (VmHWM). */
function memoryOf(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;

/** A normal job runs and completes with its output (through the API and through rnx). */
async function normalJobWorks(d: TestDaemon): Promise<string | undefined> {
  const c = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
  try {
    const r = await call(c.runJob, c, runRequest({ command: "echo", args: ["still", "alive"] }));
    if (isError(r)) return `RunJob: ${r.details}`;
    const end = await jobEnded(c, r.jobUuid);
    const out = (await readLogs(c, r.jobUuid)).toString();
    if (end.status !== "COMPLETED" || out !== "still alive\n") return `the job ended ${end.status} (${end.failureMessage}) with output ${JSON.stringify(out)}`;
  } finally {
    c.close();
  }
  const cli = rnx(["--config", d.clients.admin, "job", "run", "-f", "echo", "hello"]);
  if (cli.code !== 0 || cli.stdout !== "hello\n") return `rnx job run -f: exit ${cli.code}, ${JSON.stringify(cli.stdout + cli.stderr)}`;
  return undefined;
}

function yamlTable(rows: [string, YamlFuzzReport][]): string {
  const head = ["input", "sent", "outcomes", "failures", "time"];
  const body = rows.map(([name, r]) => [name, String(r.sent), [...r.outcomes.entries()].map(([k, v]) => `${k} ${v}`).join(", "), String(r.failures.length), `${(r.elapsedMs / 1000).toFixed(1)} s`]);
  const all = [head, ...body];
  const w = head.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  return all.map((row) => row.map((c, i) => (i === 1 || i === 3 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join("  ")).join("\n");
}

const work = mkdtempSync(join(tmpdir(), "fuzz-bench-"));
const d = await startDaemon({ config: { joblet: { jobTimeout: "60s", cleanupTimeout: "2s" } } });
let died: number | undefined;
void d.exited.then((code) => (died = code));
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, memoryOf(d.pid).rss)), 250);
const problems: string[] = [];
let grpcReport: GrpcFuzzReport | undefined;
const yamlReports: [string, YamlFuzzReport][] = [];
const started = performance.now();
try {
  const rssBefore = memoryOf(d.pid).rss;
  grpcReport = await fuzzGrpc({
    address: d.address,
    ca: d.pki.ca.cert,
    cert: d.pki.clients.admin,
    seed: SEED,
    requests: REQUESTS,
    only: ONLY.length ? ONLY : undefined,
    concurrency: CONCURRENCY,
    abort: () => died !== undefined,
    progress: (n, r) => {
      if (n % 10_000 === 0) log(`  ${n} requests, ${r.failures.length} failures, ${((performance.now() - started) / 1000).toFixed(0)} s, daemon RSS ${mb(memoryOf(d.pid).rss)} (this process ${mb(process.memoryUsage.rss())})`);
    },
  });
  log("");
  log(formatReport(grpcReport));
  const mem = memoryOf(d.pid);
  log(`\n${grpcReport.requests} requests in ${(grpcReport.elapsedMs / 1000).toFixed(1)} s (${(grpcReport.requests / (grpcReport.elapsedMs / 1000)).toFixed(0)}/s, ${CONCURRENCY} in flight); daemon RSS ${mb(rssBefore)} before, ${mb(mem.rss)} after, peak ${mb(Math.max(peakRss, mem.hwm))}`);
  log("slowest answers (under load; each request's own cost shows when resent alone with --only):");
  for (const s of grpcReport.slowest.slice(0, 5)) log(`  ${s.ms.toFixed(0).padStart(6)} ms  #${s.index} ${s.path}  ${s.what.slice(0, 100)}`);
  if (!ONLY.length && died === undefined) {
    // what held the daemon up: the slowest and the biggest requests, each resent alone
    const suspects = [...new Set([...grpcReport.slowest.map((s) => s.index), ...grpcReport.largest.map((l) => l.index)])];
    const alone: { ms: number; index: number; path: string; what: string }[] = [];
    for (const index of suspects) {
      const r = await fuzzGrpc({ address: d.address, ca: d.pki.ca.cert, cert: d.pki.clients.admin, seed: SEED, requests: 0, only: [index], concurrency: 1 });
      const s = r.slowest[0];
      if (s) alone.push({ ms: s.ms, index, path: s.path, what: s.what });
      for (const f of r.failures) problems.push(`request #${f.index} ${f.path} (${f.what}), resent alone: ${f.problem}`);
    }
    log("the slowest and the biggest requests, resent alone (what each costs the daemon by itself):");
    for (const s of alone.sort((a, b) => b.ms - a.ms).slice(0, 6)) log(`  ${s.ms.toFixed(0).padStart(6)} ms  #${s.index} ${s.path}  ${s.what.slice(0, 100)}`);
  }
  for (const f of grpcReport.failures) problems.push(`request #${f.index} ${f.path} (${f.what}): ${f.problem}`);
  if (died !== undefined) problems.push(`the daemon died (exit ${died}) during the gRPC fuzz`);

  if (died === undefined && !ONLY.length) {
    yamlReports.push(["RunWorkflow YAML", await fuzzRunWorkflow({ address: d.address, ca: d.pki.ca.cert, cert: d.pki.clients.admin, seed: SEED, count: WORKFLOWS })]);
    yamlReports.push(["joblet --validate", await fuzzValidate({ cli: binary(JOBLET), dir: join(work, "configs"), seed: SEED, count: CONFIGS })]);
    yamlReports.push(["rnx workflow run", await fuzzWorkflowFiles({ cli: binary(RNX), clientConfig: d.clients.admin, dir: join(work, "workflows"), seed: SEED, count: WORKFLOWS })]);
    log(`\n${yamlTable(yamlReports)}`);
    for (const [name, r] of yamlReports) for (const f of r.failures) problems.push(`${name} #${f.index} (${f.what}): ${f.problem}${f.file ? ` [${f.file}]` : ""}`);
  }

  if (died === undefined) {
    const broken = await normalJobWorks(d);
    if (broken) problems.push(`a normal job after the fuzz: ${broken}`);
    else log("\nafterwards: a normal job runs and completes with its output (API and rnx)");
  }
  if (died !== undefined) problems.push(`the daemon died (exit ${died})`);
} finally {
  clearInterval(sampler);
  const hwm = memoryOf(d.pid).hwm;
  const output = d.output();
  await d.stop();
  if (problems.length) {
    const kept = join(tmpdir(), `fuzz-daemon-${SEED}.log`);
    writeFileSync(kept, output);
    log(`\ndaemon log kept: ${kept}`);
  }
  rmSync(work, { recursive: true, force: true });
  log(`\nseed ${SEED}; daemon peak RSS ${mb(Math.max(peakRss, hwm))}; total ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
if (problems.length) {
  log(`\n${problems.length} failure${problems.length === 1 ? "" : "s"}:`);
  for (const p of problems.slice(0, 50)) log(`  ${p.slice(0, 600)}`);
  process.exit(1);
}
log("no failures");
