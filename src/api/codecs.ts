// Hand-written wire codecs for the two heavy paths of the API, byte-for-byte what the generated
// ts-proto codecs produce (test/unit/codecs.test.ts checks both ways):
//  - DataChunk (GetJobLogs): the payload is read from the log file just after a few free bytes
//    of its buffer, so the message header goes in front of it with no copy; the client takes the
//    payload as a view of the received message.
//  - Jobs (ListJobs): each job's encoded Job is cached against the store's read-only view of the
//    record (a changed record is a new object), so listing 10 000 jobs encodes only what changed.
import { makeGenericClientConstructor, type handleServerStreamingCall, type handleUnaryCall } from "@grpc/grpc-js";
import { DataChunk, Job, JobServiceClient, JobServiceService, type EmptyRequest, type GetJobLogsRequest, type Jobs, type JobServiceServer } from "../gen/joblet";

/** Free bytes a log chunk needs in front of its payload: the tag and a length varint. */
export const CHUNK_HEADROOM = 6;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function putVarint(buf: Uint8Array, at: number, n: number): void {
  while (n >= 0x80) {
    buf[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[at] = n;
}

/** Field 1, length-delimited, around `payload` — which must have CHUNK_HEADROOM free bytes before it. */
function frameInPlace(payload: Uint8Array): Buffer {
  const head = 1 + varintSize(payload.length);
  if (payload.byteOffset < head) throw new RangeError("log chunk without headroom");
  const out = Buffer.from(payload.buffer, payload.byteOffset - head, head + payload.length);
  out[0] = 0x0a; // field 1, wire type 2
  putVarint(out, 1, payload.length);
  return out;
}

/** A DataChunk message for a payload read with CHUNK_HEADROOM free bytes before it. */
export function encodeChunk(payload: Uint8Array): Buffer {
  return payload.length === 0 ? Buffer.alloc(0) : frameInPlace(payload);
}

/** A DataChunk whose payload is a view of the received bytes (the common one-field message). */
export function decodeChunk(buf: Buffer): DataChunk {
  if (buf.length > 0 && buf[0] === 0x0a) {
    let len = 0;
    let scale = 1;
    let at = 1;
    for (; at < buf.length && at < 11; at++) {
      len += (buf[at]! & 0x7f) * scale;
      scale *= 128;
      if (buf[at]! < 0x80) break;
    }
    if (at + 1 + len === buf.length) return { payload: buf.subarray(at + 1) };
  }
  return DataChunk.decode(buf); // anything else (unknown fields, repeats): the generated decoder
}

const jobFields = new WeakMap<object, Uint8Array>();

/** A Jobs message from read-only record views; each view's Job bytes are computed once. */
export function encodeJobs<T extends object>(views: readonly T[], toJob: (view: T) => Job): Buffer {
  const parts: Uint8Array[] = new Array(views.length);
  let total = 0;
  for (let i = 0; i < views.length; i++) {
    const view = views[i]!;
    let field = jobFields.get(view);
    if (!field) {
      const body = Job.encode(toJob(view)).finish();
      field = new Uint8Array(1 + varintSize(body.length) + body.length);
      field[0] = 0x0a; // Jobs.jobs = 1
      putVarint(field, 1, body.length);
      field.set(body, field.length - body.length);
      jobFields.set(view, field);
    }
    parts[i] = field;
    total += field.length;
  }
  return Buffer.concat(parts, total);
}

type Definition = typeof JobServiceService;

/** The server's JobService definition: GetJobLogs and ListJobs handlers send encoded Buffers. */
export const serverJobService: Definition = {
  ...JobServiceService,
  getJobLogs: { ...JobServiceService.getJobLogs, responseSerialize: (v: DataChunk | Buffer) => (Buffer.isBuffer(v) ? v : JobServiceService.getJobLogs.responseSerialize(v)) },
  listJobs: { ...JobServiceService.listJobs, responseSerialize: (v: Jobs | Buffer) => (Buffer.isBuffer(v) ? v : JobServiceService.listJobs.responseSerialize(v)) },
};

/** JobService handlers as served with serverJobService: the two heavy ones may answer with encoded bytes. */
export type JobServiceHandlers = Omit<JobServiceServer, "listJobs" | "getJobLogs"> & {
  listJobs: handleUnaryCall<EmptyRequest, Jobs | Buffer>;
  getJobLogs: handleServerStreamingCall<GetJobLogsRequest, DataChunk | Buffer>;
};

/** The clients' JobService definition: log chunks decoded without copying their payload. */
export const clientJobService: Definition = {
  ...JobServiceService,
  getJobLogs: { ...JobServiceService.getJobLogs, responseDeserialize: decodeChunk },
};

/** JobServiceClient on clientJobService. */
export const JobClient = makeGenericClientConstructor(clientJobService, "joblet.JobService") as unknown as typeof JobServiceClient;
