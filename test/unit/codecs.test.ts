// The hand-written codecs produce and accept exactly what the generated ones do.
import { describe, expect, test } from "bun:test";
import { CHUNK_HEADROOM, decodeChunk, encodeChunk, encodeJobs } from "../../src/api/codecs";
import { toJob } from "../../src/daemon/grpc/job-service";
import type { JobRecord } from "../../src/daemon/jobs/job";
import { DataChunk, Jobs } from "../../src/gen/joblet";

/** A payload as the log store hands it out: CHUNK_HEADROOM free bytes before it. */
function withHeadroom(bytes: Uint8Array): Uint8Array {
  const buf = Buffer.alloc(CHUNK_HEADROOM + bytes.length, 0xee);
  buf.set(bytes, CHUNK_HEADROOM);
  return buf.subarray(CHUNK_HEADROOM);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("DataChunk", () => {
  test.each([0, 1, 127, 128, 300, 16383, 16384, 2_097_151, 2_097_152, 5_000_000])("%d bytes: same bytes as the generated encoder, and back", (n) => {
    const payload = Buffer.alloc(n);
    for (let i = 0; i < n; i++) payload[i] = (i * 31 + 7) & 0xff;
    const ours = encodeChunk(withHeadroom(payload));
    expect(hex(ours)).toBe(hex(DataChunk.encode({ payload }).finish()));
    const back = decodeChunk(Buffer.from(DataChunk.encode({ payload }).finish()));
    expect(Buffer.compare(Buffer.from(back.payload), payload)).toBe(0);
  });

  test("a view of the received message, not a copy", () => {
    const msg = Buffer.from(DataChunk.encode({ payload: Buffer.from("hello") }).finish());
    const chunk = decodeChunk(msg);
    expect(chunk.payload.buffer).toBe(msg.buffer);
  });

  test("messages the fast path does not know go to the generated decoder", () => {
    // payload, then an unknown field 7 (varint 1): a newer server's extension
    const msg = Buffer.concat([Buffer.from(DataChunk.encode({ payload: Buffer.from("ab") }).finish()), Buffer.from([0x38, 0x01])]);
    expect(Buffer.from(decodeChunk(msg).payload).toString()).toBe("ab");
    expect(decodeChunk(Buffer.alloc(0)).payload.length).toBe(0);
  });

  test("a payload without headroom is refused rather than corrupting memory before it", () => {
    expect(() => encodeChunk(new Uint8Array(4))).toThrow(RangeError);
  });
});

describe("Jobs", () => {
  const record = (i: number): JobRecord => ({
    uuid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    name: i % 2 ? `job-${i}` : "",
    command: "sh",
    args: ["-c", `echo ${"é".repeat(i)}`],
    maxCpu: i,
    cpuCores: "",
    maxMemory: 512,
    maxIoBps: 0,
    maxPids: 64,
    network: "none",
    volumes: [],
    runtime: "",
    workDir: "/work",
    environment: { A: String(i) },
    secretNames: ["TOKEN"],
    uploads: [],
    gpuCount: 0,
    gpuMemoryMb: 0,
    status: "COMPLETED",
    startTime: "2026-11-28T00:00:00.000Z",
    endTime: "2026-11-28T00:00:01.000Z",
    exitCode: i,
    timeoutMs: 0,
    nodeId: "n",
    ...(i === 3 ? { failureReason: "TIMEOUT" as const, failureMessage: "late", warning: "w" } : {}),
  });

  test("same bytes as the generated encoder; each record view is encoded once", () => {
    const views = Array.from({ length: 200 }, (_, i) => record(i));
    let calls = 0;
    const counted = (j: JobRecord) => (calls++, toJob(j));
    const first = encodeJobs(views, counted);
    expect(hex(first)).toBe(hex(Jobs.encode({ jobs: views.map(toJob) }).finish()));
    expect(calls).toBe(200);
    // a changed record is a new view: only it is encoded again
    views[5] = { ...views[5]!, status: "FAILED", exitCode: 9 };
    const second = encodeJobs(views, counted);
    expect(calls).toBe(201);
    expect(hex(second)).toBe(hex(Jobs.encode({ jobs: views.map(toJob) }).finish()));
    expect(Jobs.decode(second).jobs[5]).toMatchObject({ status: "FAILED", exitCode: 9 });
    expect(encodeJobs([], toJob).length).toBe(0);
  });
});
