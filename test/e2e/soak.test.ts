// The soak benchmark (test/bench/soak.ts) reduced for CI: about 300 jobs of every kind (true,
// 64 KB of output, exit 3, timeout, stopped, OOM-killed, uploads, exec failure, setup failure),
// one at a time and in bursts (beyond joblet.maxConcurrentJobs: through the queue), each checked
// for its status, exit code, reason and exact output; then, once every job is deleted, the
// daemon is back to its baseline exactly: no fd of any kind (pipes, pidfds, sockets, netns,
// files), thread, job cgroup, mount, workspace, tmp file, log, job process or zombie more than
// before. RSS only within a generous bound (the JS heap and the allocator keep what they grew
// to; the benchmark reports the trend over 10 000 jobs).
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { JobServiceClient } from "../../src/gen/joblet";
import { call, isError, jobClient } from "../helpers/client";
import { startDaemon, type TestDaemon } from "../helpers/daemon";
import { describeGrowth, leftAfterExit, scopeOf, settle, type LeakScope, type Snapshot } from "../helpers/leaks";
import { MIX, runBlock, runKind, soakConfig, warmUp, type JobResult } from "../bench/soak";

/** RSS may grow this much over the baseline (taken after a warm-up): several times what 300 jobs grow it here (10-30 MB). */
const RSS_BOUND_KB = 128 * 1024;

let d: TestDaemon;
let client: JobServiceClient;
let scope: LeakScope;
let baseline: Snapshot;

beforeAll(async () => {
  // 24 slots: bursts of 40 start 24 jobs at once and queue the rest (both ways into a sandbox)
  d = await startDaemon({ config: soakConfig(24) });
  client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
  scope = scopeOf(d);
  baseline = await warmUp(client, scope);
});
afterAll(async () => {
  client?.close();
  if (!d) return;
  expect(await d.stop()).toBe(0);
  expect(leftAfterExit(scope, baseline)).toEqual([]); // its cgroup directories went with it
});

const problems = (rs: JobResult[]) => rs.filter((r) => r.problem).map((r) => `${r.kind} ${r.uuid ?? ""}: ${r.problem}`);

test("about 300 jobs of every kind, in sequence and in bursts: each ends as it should, and nothing leaks once they are deleted", async () => {
  const results: JobResult[] = [];
  // 2 blocks of 17 rounds of the mix (153 jobs): half one at a time, half in bursts of 40
  const ROUNDS = 17;
  for (let block = 0; block < 2; block++) {
    results.push(...(await runBlock(client, MIX.length * ROUNDS, 40, block * MIX.length * ROUNDS)));
    // while the jobs are still stored: no job's cgroups, workspace or processes remain
    const during = await settle(scope, baseline, { timeoutMs: 15_000, ignore: ["logFiles", "metricFiles"] });
    expect(describeGrowth(during.growth)).toBe("");
  }
  expect(problems(results)).toEqual([]);
  expect(results.length).toBe(MIX.length * ROUNDS * 2);
  for (const k of MIX) expect(results.filter((r) => r.kind === k.name).length).toBe(ROUNDS * 2);

  const del = await call(client.deleteAllJobs, client, {});
  expect(isError(del) ? del.details : del.deletedCount).toBe(results.length);
  const { snapshot: after, growth } = await settle(scope, baseline, { timeoutMs: 20_000 });
  expect(describeGrowth(growth)).toBe(""); // fds of every kind, threads, cgroups, mounts, workspaces, tmp, logs, processes, zombies
  expect(after.cgroups).toEqual([]);
  expect(after.processes).toEqual([]);
  expect(after.zombies).toEqual([]);
  expect(after.workspaces).toEqual([]);
  expect(after.rssKb - baseline.rssKb).toBeLessThan(RSS_BOUND_KB);
  // and the daemon still runs jobs
  expect(problems([await runKind(client, MIX[1]!)])).toEqual([]);
}, 90_000);
