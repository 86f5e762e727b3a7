// Every headline benchmark and pressure run in one go, then one summary table with the targets and the ratios to
// bubblewrap and plain unshare measured in the same run (`npm run bench`). Each benchmark prints
// its own full table as it goes; the summary is read from the figures they report (BENCH_JSON).
// Run: npm run bench   (or ./node_modules/.bin/bun test/bench/suite.ts [--quick])
//   --quick: smaller counts (about three minutes instead of about half an hour)
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const quick = process.argv.includes("--quick");
const dir = mkdtempSync(join(tmpdir(), "bench-suite-"));
const figuresFile = join(dir, "figures.jsonl");
const BUN = process.execPath;
const here = import.meta.dir;

const runs: [string, string[]][] = [
  ["start.ts", [quick ? "100" : "500"]],
  ["throughput.ts", quick ? ["--jobs=500"] : ["--jobs=2000"]],
  ["scale.ts", quick ? ["--jobs=200", "--secs=10", "--logMB=256", "--fanJobs=20", "--fanMB=10"] : []],
  ["crash.ts", quick ? ["--jobs=200", "--logMB=256"] : []],
  ["soak.ts", quick ? ["--jobs=1000"] : []],
  ["abuse.ts", quick ? ["--conns=200", "--slow=100", "--streams=50", "--samples=30"] : []],
  ["fuzz.ts", quick ? ["--requests=5000", "--configs=100", "--workflows=100"] : []],
];

let failed = false;
const exits = new Map<string, number>();
try {
  for (const [script, args] of runs) {
    console.log(`\n=== ${script} ${args.join(" ")}\n`);
    const p = Bun.spawn([BUN, join(here, script), ...args], { stdout: "inherit", stderr: "inherit", env: { ...process.env, BENCH_JSON: figuresFile } });
    const code = await p.exited;
    exits.set(script, code);
    if (code !== 0) {
      failed = true;
      console.log(`(${script} exited with an error)`);
    }
  }
  const figures = new Map<string, Record<string, number>>();
  if (existsSync(figuresFile)) {
    for (const line of readFileSync(figuresFile, "utf8").split("\n").filter(Boolean)) {
      const { bench, ...rest } = JSON.parse(line) as { bench: string } & Record<string, number>;
      figures.set(bench, rest);
    }
  }
  summary(figures);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;

function summary(f: Map<string, Record<string, number>>): void {
  const start = f.get("start") ?? {};
  const tp = f.get("throughput") ?? {};
  const scale = f.get("scale") ?? {};
  const n = (v: number | undefined, digits = 1) => (v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(digits));
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? "-" : `${(a / b).toFixed(2)}×`);
  const verdict = (ok: boolean | undefined) => (ok === undefined ? "-" : ok ? "met" : "NOT met");
  const rows: [string, string, string, string, string, string][] = [
    ["measure", "joblet", "bwrap", "unshare", "joblet ÷ bwrap / unshare", "target"],
    ["start: command exec'd, p50 ms (daemon's view)", n(start.execP50, 2), n(start.bwrapP50, 2), n(start.unshareP50, 2), `${ratio(start.execP50, start.bwrapP50)} / ${ratio(start.execP50, start.unshareP50)}`, `≤ 5 ms: ${verdict(start.execP50 === undefined ? undefined : start.execP50 <= 5)}`],
    ["start: p99 ms", n(start.execP99, 2), n(start.bwrapP99, 2), n(start.unshareP99, 2), `${ratio(start.execP99, start.bwrapP99)} / ${ratio(start.execP99, start.unshareP99)}`, `≤ 15 ms: ${verdict(start.execP99 === undefined ? undefined : start.execP99 <= 15)}`],
    ["start: submit → completed over mTLS, p50 ms", n(start.submitP50, 2), n(start.bwrapP50, 2), n(start.unshareP50, 2), `${ratio(start.submitP50, start.bwrapP50)} / ${ratio(start.submitP50, start.unshareP50)}`, `≤ 2× bwrap: ${verdict(start.submitP50 === undefined || start.bwrapP50 === undefined ? undefined : start.submitP50 <= 2 * start.bwrapP50)}`],
    ["throughput: /bin/true jobs per second (16 clients)", n(tp.rate), n(tp.bwrapRate), n(tp.unshareRate), `${ratio(tp.rate, tp.bwrapRate)} / ${ratio(tp.rate, tp.unshareRate)}`, `≥ 200/s, 0 failed: ${verdict(tp.rate === undefined ? undefined : tp.rate >= 200 && tp.failed === 0)}`],
    ["throughput: submit → completed p99 ms", n(tp.p99), "", "", "", ""],
    [`scale: daemon peak RSS MB, ${scale.jobs ?? "-"} jobs at once`, n(scale.peakRssMb), "", "", "", `≤ 250 MB: ${verdict(scale.peakRssMb === undefined ? undefined : scale.peakRssMb <= 250)}`],
    ["scale: daemon memory per running job, KB", n(scale.perJobKb, 0), "", "", "", `≤ 100 KB: ${verdict(scale.perJobKb === undefined ? undefined : scale.perJobKb <= 100)}`],
    ["scale: one log followed live, MB/s, byte-exact", n(scale.followMBs, 0), "", "", "", `≥ 200 MB/s: ${verdict(scale.followMBs === undefined ? undefined : scale.followMBs >= 200)}`],
    ["scale: followers byte-exact (3 per job)", scale.fanTotal === undefined ? "-" : `${scale.fanExact} of ${scale.fanTotal}`, "", "", "", "all"],
  ];
  for (const [script, code] of exits) rows.push([`${script}: its own checks`, code === 0 ? "passed" : `FAILED (exit ${code})`, "", "", "", ""]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(`\n=== summary (one run, this machine)\n`);
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
}
