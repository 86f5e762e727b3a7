// The daemon SIGKILLed mid-work (issue 7, reduced for CI; test/bench/crash.ts is the full run):
// with 100 jobs running, and while a job writes a 64 MB log. After the restart every job is
// accounted for, nothing of theirs is left running, and the log holds what was written.
import { describe, expect, test } from "bun:test";
import { killWhileLogging, killWithJobsRunning } from "../helpers/crash";

describe("SIGKILL mid-work", () => {
  test("100 jobs running: each ends FAILED DAEMON_RESTART, none survives, the next job runs", async () => {
    const c = await killWithJobsRunning(100);
    expect(c).toMatchObject({ runningAtKill: 100, failedRestart: 100, leftoverProcesses: 0, newJobCompleted: true });
    expect(c.staleRemoved).toBeGreaterThan(0);
  }, 120_000);

  test("a job writing 64 MB: after the restart its log holds at least what was written at the kill, as a prefix", async () => {
    const c = await killWhileLogging(64, 8);
    expect({ status: c.status, reason: c.reason, prefix: c.prefix }).toEqual({ status: "FAILED", reason: "DAEMON_RESTART", prefix: true });
    expect(c.after).toBeGreaterThanOrEqual(c.atKill);
  }, 120_000);
});
