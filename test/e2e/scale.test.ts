// Scale, reduced for CI (issue 7; test/bench/scale.ts is the full run): many jobs running at once
// all start and complete and give back their fds; one large log (to `rnx job log` over mTLS) and
// many small ones (to GetJobLogs streams) reach every live follower byte for byte.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import type { JobServiceClient, RunJobRequest } from "../../src/gen/joblet";
import { call, isError, jobClient, jobEnded, runRequest } from "../helpers/client";
import { startDaemon, type TestDaemon } from "../helpers/daemon";
import { followLog, followStream, shaOfMb, writeMb } from "../helpers/follow";
import { until } from "../helpers/wait";

let d: TestDaemon;
let client: JobServiceClient;

beforeAll(async () => {
  d = await startDaemon({ config: { joblet: { maxConcurrentJobs: 150 } } });
  client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
});
afterAll(async () => {
  client?.close();
  await d?.stop();
});

async function run(r: Partial<RunJobRequest>): Promise<string> {
  const res = await call(client.runJob, client, runRequest(r));
  if (isError(res)) throw new Error(res.details);
  return res.jobUuid;
}

const fds = () => readdirSync(`/proc/${d.pid}/fd`).length;
const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${d.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

describe("many jobs at once", () => {
  test("100 sleeping jobs all run at the same time, all complete, and the daemon gives back every fd", async () => {
    await jobEnded(client, await run({ command: "true" })); // warm: the sandbox template and the netns pool
    const baseline = fds();
    const uuids = await Promise.all(Array.from({ length: 100 }, () => run({ command: "sleep", args: ["10"], maxMemory: 16, maxPids: 8 })));
    const running = async () => {
      const r = await call(client.listJobs, client, {});
      if (isError(r)) throw new Error(r.details);
      return r.jobs.filter((j) => uuids.includes(j.uuid) && j.status === "RUNNING").length;
    };
    expect(await running()).toBe(100); // each RunJob answered once its job ran; none has ended yet
    expect(rssMb()).toBeLessThan(250);
    const ends = await Promise.all(uuids.map((u) => jobEnded(client, u)));
    expect(ends.filter((s) => s.status === "COMPLETED").length).toBe(100);
    await until("the daemon's fds back to the baseline", () => fds() <= baseline, 15_000);
  }, 60_000);
});

describe("logs to live followers", () => {
  test("a 64 MB log reaches two live followers byte for byte", async () => {
    const [command, ...args] = writeMb(64, "a");
    const uuid = await run({ command: command!, args });
    const [a, b] = await Promise.all([followLog(d.clients.admin, uuid), followLog(d.clients.admin, uuid)]);
    const want = { sha: shaOfMb(64, "a"), bytes: 64 * 1024 * 1024 };
    expect(a).toEqual(want);
    expect(b).toEqual(want);
  }, 60_000);

  test("10 jobs × 2 MB, three live followers each (on three connections), every follower byte for byte", async () => {
    const [command, ...args] = writeMb(2, "b");
    const followers = [0, 1, 2].map(() => jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin));
    try {
      const uuids = await Promise.all(Array.from({ length: 10 }, () => run({ command: command!, args })));
      const got = await Promise.all(uuids.flatMap((u) => followers.map((f) => followStream(f, u))));
      const want = shaOfMb(2, "b");
      expect(got.filter((g) => g.sha === want && g.bytes === 2 * 1024 * 1024).length).toBe(30);
    } finally {
      for (const f of followers) f.close();
    }
  }, 60_000);
});
