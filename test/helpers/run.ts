// Runs the compiled binary (as joblet or as rnx) and captures what it printed.
import { JOBLET, RNX } from "./paths";

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export function runBinary(bin: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Result {
  const p = Bun.spawnSync([bin, ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", TMPDIR: process.env.TMPDIR ?? "/tmp", ...opts.env },
    cwd: opts.cwd,
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 30_000,
  });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

export const joblet = (args: string[], opts?: Parameters<typeof runBinary>[2]) => runBinary(JOBLET, args, opts);
export const rnx = (args: string[], opts?: Parameters<typeof runBinary>[2]) => runBinary(RNX, args, opts);
