// Following a job's output the way a user does (`rnx job log`), hashed as it arrives, and the
// hash the output should have.
import { createHash } from "node:crypto";
import type { JobServiceClient } from "../../src/gen/joblet";
import { RNX } from "./paths";

/** `rnx job log <uuid>` to its end: the sha256 of what it printed, and how many bytes. */
export async function followLog(configPath: string, uuid: string): Promise<{ sha: string; bytes: number }> {
  const p = Bun.spawn([RNX, "--config", configPath, "job", "log", uuid], { stdout: "pipe", stderr: "pipe" });
  const h = createHash("sha256");
  let bytes = 0;
  for await (const chunk of p.stdout) {
    h.update(chunk);
    bytes += chunk.length;
  }
  const code = await p.exited;
  if (code !== 0) throw new Error(`rnx job log ${uuid}: exit ${code}: ${await new Response(p.stderr).text()}`);
  return { sha: h.digest("hex"), bytes };
}

/** GetJobLogs of a job to its end over an existing connection, hashed as it arrives (nothing kept). */
export function followStream(client: JobServiceClient, uuid: string): Promise<{ sha: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    let bytes = 0;
    const s = client.getJobLogs({ uuid });
    s.on("data", (c: { payload: Uint8Array }) => {
      h.update(c.payload);
      bytes += c.payload.length;
    });
    s.on("error", reject);
    s.on("end", () => resolve({ sha: h.digest("hex"), bytes }));
  });
}

/** A job command writing `mb` MB of the character `c` to stdout. */
export const writeMb = (mb: number, c: string) => ["sh", "-c", `head -c ${mb * 1024 * 1024} /dev/zero | tr '\\0' ${c}`];

/** The sha256 of what writeMb(mb, c) writes. */
export function shaOfMb(mb: number, c: string): string {
  const h = createHash("sha256");
  const block = Buffer.alloc(1024 * 1024, c);
  for (let i = 0; i < mb; i++) h.update(block);
  return h.digest("hex");
}
