// Durable output: the job's init writes its log, so a full disk costs output, never the job or
// the daemon.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { call, isError, jobClient, readLogs, runRequest } from "../helpers/client";
import { startDaemon } from "../helpers/daemon";

const work = mkdtempSync(join(tmpdir(), "persistence-test-"));
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) Bun.spawnSync(["umount", m]);
  rmSync(work, { recursive: true, force: true });
});

function smallTmpfs(name: string, size: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir]);
  if (r.exitCode !== 0) throw new Error(`mount tmpfs: ${r.stderr.toString()}`);
  mounts.push(dir);
  return dir;
}

describe("disk full", () => {
  test("the job keeps running and completes, its status warns, the daemon logs it once, and keeps serving", async () => {
    const logs = smallTmpfs("full", "64k");
    const d = await startDaemon({ config: { persist: { storage: { local: { logs: { directory: logs }, metrics: { directory: join(work, "metrics") } } } } } });
    const client = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
    try {
      // 1 MB of output into 64 kB of disk, then proof of life after the disk filled up
      const r = await call(client.runJob, client, runRequest({ command: "sh", args: ["-c", "head -c 1048576 /dev/zero | tr '\\0' x; echo; echo still-running > /work/alive; cat /work/alive; exit 3"] }));
      if (isError(r)) throw new Error(r.details);
      let s;
      for (;;) {
        s = await call(client.getJobStatus, client, { uuid: r.jobUuid });
        if (isError(s)) throw new Error(s.details);
        if (s.status !== "RUNNING" && s.status !== "INITIALIZING") break;
        await Bun.sleep(20);
      }
      expect({ status: s.status, exitCode: s.exitCode }).toEqual({ status: "FAILED", exitCode: 3 }); // its own code: it ran to the end
      expect(s.warning).toMatch(/the log could not be written \(no space left on device\)/i);
      const log = await readLogs(client, r.jobUuid);
      expect(log.length).toBeGreaterThan(32 * 1024); // what fit is kept
      expect(log.length).toBeLessThanOrEqual(64 * 1024);
      expect(d.output().match(/job log write failed/g)?.length).toBe(1);
      // the daemon still serves: list, and after deleting the job (freeing the disk) a new job logs fine
      const list = await call(client.listJobs, client, {});
      expect(isError(list) ? list : list.jobs.length).toBe(1);
      expect(isError(await call(client.deleteJob, client, { uuid: r.jobUuid }))).toBe(false);
      const next = await call(client.runJob, client, runRequest({ command: "echo", args: ["fine"] }));
      if (isError(next)) throw new Error(next.details);
      for (;;) {
        const n = await call(client.getJobStatus, client, { uuid: next.jobUuid });
        if (!isError(n) && n.status === "COMPLETED") {
          expect(n.warning).toBe("");
          break;
        }
        await Bun.sleep(20);
      }
      expect((await readLogs(client, next.jobUuid)).toString()).toBe("fine\n");
    } finally {
      client.close();
      await d.stop();
    }
  });
});
