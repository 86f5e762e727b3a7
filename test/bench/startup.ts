// Startup benchmark: how long the executable takes to answer --version and --help, and a full
// round trip to a local daemon over mTLS. Target (issue 2): --version under 15 ms.
// Run: ./node_modules/.bin/bun test/bench/startup.ts [runs]   (after `npm run build`)
import { startDaemon } from "../helpers/daemon";
import { JOBLET, RNX, requireBinary } from "../helpers/paths";

const RUNS = Number(process.argv[2] ?? 50);

function measure(argv: string[], runs = RUNS): { median: number; p95: number; mean: number; min: number } {
  for (let i = 0; i < 5; i++) Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore" }); // warm-up (page cache, extracted .so)
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const p = Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore" });
    times.push(performance.now() - t0);
    if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${p.exitCode}`);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { median: at(0.5), p95: at(0.95), mean: times.reduce((a, b) => a + b, 0) / times.length, min: times[0]! };
}

requireBinary();
const rows: [string, ReturnType<typeof measure>][] = [
  ["joblet --version", measure([JOBLET, "--version"])],
  ["rnx --version", measure([RNX, "--version"])],
  ["rnx --help", measure([RNX, "--help"])],
  ["rnx job run --help", measure([RNX, "job", "run", "--help"])],
];
const d = await startDaemon({ config: { logging: { level: "warn" } } });
try {
  rows.push(["rnx monitor status (mTLS round trip)", measure([RNX, "--config", d.clients.admin, "monitor", "status"], Math.min(RUNS, 20))]);
} finally {
  await d.stop();
}

const fmt = (n: number) => n.toFixed(1).padStart(7);
console.log(`startup, ${RUNS} runs each (ms; process spawn included)\n`);
console.log(`${"command".padEnd(40)} ${"median".padStart(7)} ${"p95".padStart(7)} ${"mean".padStart(7)} ${"min".padStart(7)}`);
for (const [name, r] of rows) console.log(`${name.padEnd(40)} ${fmt(r.median)} ${fmt(r.p95)} ${fmt(r.mean)} ${fmt(r.min)}`);
const version = rows.find(([n]) => n === "rnx --version")![1];
console.log(`\ntarget: rnx --version median under 15 ms: ${version.median < 15 ? "met" : "NOT met"} (${version.median.toFixed(1)} ms)`);
