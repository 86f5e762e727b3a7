// A benchmark's headline figures for test/bench/suite.ts: when BENCH_JSON names a file, each
// benchmark appends one JSON line with its name and figures, which the suite's summary reads.
import { appendFileSync } from "node:fs";

/** `--name=N` from the command line (a positive integer), or `def`. */
export function numberArg(name: string, def: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  const v = a ? Number(a.slice(name.length + 3)) : def;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name}: expected a positive integer, got ${a}`);
  return v;
}

export function reportFigures(bench: string, figures: Record<string, number | undefined>): void {
  const file = process.env.BENCH_JSON;
  if (file) appendFileSync(file, `${JSON.stringify({ bench, ...figures })}\n`);
}

/** Spawn → exit of a command, `runs` times one after another (ms each), after a few warm-up runs. */
export function timeRuns(argv: string[], runs: number): number[] {
  for (let i = 0; i < 10; i++) Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore" });
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const p = Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore" });
    out.push(performance.now() - t0);
    if (p.exitCode !== 0) throw new Error(`${argv[0]} exited ${p.exitCode}`);
  }
  return out;
}

/** How many runs of a command per second, `parallel` at a time, `total` in all. */
export async function rateOf(argv: string[], total: number, parallel: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next++ < total) {
        const code = await Bun.spawn(argv, { stdout: "ignore", stderr: "ignore" }).exited;
        if (code !== 0) throw new Error(`${argv[0]} exited ${code}`);
      }
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}

/** The sandboxes the daemon is compared with: bubblewrap with every namespace and a minimal root, and plain unshare. */
export const BWRAP = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/", "/bin/true"];
export const UNSHARE = ["unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "--mount-proc", "/bin/true"];

export const installed = (argv: string[]) => Bun.spawnSync([argv[0]!, "--version"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
