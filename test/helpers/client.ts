// A raw gRPC client for tests that need status codes or requests rnx would never send.
import * as grpc from "@grpc/grpc-js";
import { JobClient } from "../../src/api/codecs";
import { TERMINAL, type JobStatus } from "../../src/daemon/jobs/job";
import type { GetJobStatusResponse, JobServiceClient, RunJobRequest } from "../../src/gen/joblet";
import type { CertBundle } from "../../src/pki/authority";

export interface RpcError {
  code: grpc.status;
  details: string;
}

export function jobClient(address: string, ca: string, client: CertBundle): JobServiceClient {
  return new JobClient(address, grpc.credentials.createSsl(Buffer.from(ca), Buffer.from(client.key), Buffer.from(client.cert)), {
    "grpc.ssl_target_name_override": "joblet",
    "grpc.max_receive_message_length": 256 * 1024 * 1024,
    "grpc-node.flow_control_window": 16 * 1024 * 1024,
    "grpc.max_send_message_length": 256 * 1024 * 1024,
  });
}

type Callback<R> = (e: grpc.ServiceError | null, r: R) => void;

/** A unary call: the response, or an RpcError (never throws). */
export function call<Q, R>(fn: (q: Q, md: grpc.Metadata, o: Partial<grpc.CallOptions>, cb: Callback<R>) => unknown, client: object, request: Q): Promise<R | RpcError> {
  return new Promise((resolve) =>
    fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + 60_000 }, (e, r) => resolve(e ? { code: e.code, details: e.details } : r)),
  );
}

export function isError(v: unknown): v is RpcError {
  return typeof v === "object" && v !== null && "code" in v && "details" in v && Object.keys(v).length === 2;
}

/** Every byte of a job's log stream. */
export function readLogs(client: JobServiceClient, uuid: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const s = client.getJobLogs({ uuid });
    s.on("data", (c: { payload: Buffer }) => parts.push(Buffer.from(c.payload)));
    s.on("error", reject);
    s.on("end", () => resolve(Buffer.concat(parts)));
  });
}

/** A RunJob request with every field at its default, then `r`. */
export function runRequest(r: Partial<RunJobRequest> = {}): RunJobRequest {
  return {
    command: "true",
    args: [],
    maxCpu: 0,
    cpuCores: "",
    maxMemory: 0,
    maxIoBps: 0,
    maxPids: 0,
    uploads: [],
    schedule: "",
    network: "",
    volumes: [],
    runtime: "",
    workDir: "",
    environment: {},
    secretEnvironment: {},
    gpuCount: 0,
    gpuMemoryMb: 0,
    name: "",
    timeout: "",
    cron: "",
    allowOverlap: false,
    ...r,
  };
}

/** Starts a job; its uuid (throws on an RPC error). */
export async function startJob(client: JobServiceClient, command: string, args: string[] = []): Promise<string> {
  const r = await call(client.runJob, client, runRequest({ command, args }));
  if (isError(r)) throw new Error(r.details);
  return r.jobUuid;
}

/** A job's status (throws on an RPC error). */
export async function statusOf(client: JobServiceClient, uuid: string): Promise<GetJobStatusResponse> {
  const s = await call(client.getJobStatus, client, { uuid });
  if (isError(s)) throw new Error(`${uuid}: ${s.details}`);
  return s;
}

/** The job's status once it has ended (COMPLETED, FAILED, STOPPED or CANCELED). */
export async function jobEnded(client: JobServiceClient, uuid: string): Promise<GetJobStatusResponse> {
  for (;;) {
    const s = await statusOf(client, uuid);
    if (TERMINAL.has(s.status as JobStatus)) return s;
    await Bun.sleep(20);
  }
}
