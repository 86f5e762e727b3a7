// What the HTTPS endpoint serves. Each route needs the permission of one gRPC method (the RBAC
// table in auth/rbac.ts decides), answers JSON or an event stream, and reports errors as JSON
// {error, code} with the gRPC code name and the matching HTTP status.
import type { IncomingMessage, ServerResponse } from "node:http";
import { snakeKeys, toJsonValue } from "../../api/json";
import { ApiError, invalid } from "../errors";
import { toStatus } from "../grpc/job-service";
import type { JobRecord } from "../jobs/job";
import type { JobManager } from "../jobs/job-manager";
import type { Logger } from "../logging/logger";
import { EventStream, LogEventEncoder } from "./sse";

/** What the routes need of the job manager. */
export type JobSource = Pick<JobManager, "resolve" | "logOf" | "watch" | "pendingInfo">;

/** An events client this far behind (bytes not taken yet) is cut off rather than buffered for. */
const MAX_EVENT_BACKLOG = 4 * 1024 * 1024;

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** the job id of /v1/jobs/{id}/… */
  id: string;
  jobs: JobSource;
  log: Logger;
  /** Starts the event stream (RESOURCE_EXHAUSTED when too many are open). */
  openStream(): EventStream;
  /** Resolves when the daemon shuts down: streams end. */
  stopping: Promise<void>;
  isStopping(): boolean;
}

export interface Route {
  /** the gRPC method whose permission this route needs (see RPC_PERMISSIONS) */
  rpc: string;
  handle(c: RequestContext): Promise<void> | void;
}

export type HttpErrorCode = ApiError["code"] | "PERMISSION_DENIED" | "METHOD_NOT_ALLOWED";

const HTTP_STATUS: Record<HttpErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 409,
  INTERNAL: 500,
  UNIMPLEMENTED: 501,
  RESOURCE_EXHAUSTED: 503,
  UNAVAILABLE: 503,
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, code: HttpErrorCode, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, HTTP_STATUS[code], { error: message, code }, code === "RESOURCE_EXHAUSTED" || code === "UNAVAILABLE" ? { "retry-after": "5", ...headers } : headers);
}


/** A job as JSON: the GetJobStatus response with snake_case keys, exactly what `rnx job status --json` prints. */
export const statusJson = (job: JobRecord, jobs: JobSource): unknown => toJsonValue(snakeKeys(toStatus(job, jobs.pendingInfo(job))));

/** The byte to start at: Last-Event-ID (what EventSource sends when it reconnects) wins over ?offset=. */
function resumeOffset(c: RequestContext): number {
  const header = c.req.headers["last-event-id"];
  const fromHeader = typeof header === "string" && header.trim() !== "";
  const raw = fromHeader ? header.trim() : c.url.searchParams.get("offset");
  if (raw === null) return 0;
  if (!/^\d{1,15}$/.test(raw)) throw invalid(`${fromHeader ? "Last-Event-ID" : "offset"}: expected a byte offset (a non-negative integer), got ${JSON.stringify(raw.slice(0, 40))}`);
  return Number(raw);
}

/** GET /v1/jobs/{id}/logs: the job's output from a byte offset, then live until the job ends. */
async function logs(c: RequestContext): Promise<void> {
  const job = c.jobs.resolve(c.id);
  const log = c.jobs.logOf(job.uuid);
  const offset = resumeOffset(c);
  const encoding = c.url.searchParams.get("encoding") ?? "text";
  if (encoding !== "text" && encoding !== "base64") throw invalid(`encoding: expected "text" or "base64", got ${JSON.stringify(encoding.slice(0, 40))}`);
  const size = log.size;
  if (offset > size) throw invalid(`offset ${offset} is past the end of the log of job ${job.uuid} (${size} bytes so far)`);

  const stream = c.openStream();
  stream.write(`: output of job ${job.uuid} from byte ${offset}\n\n`);
  const encoder = new LogEventEncoder(offset, encoding === "base64");
  for await (const chunk of log.follow(offset, () => stream.done || c.isStopping())) {
    const events = encoder.encode(chunk);
    if (events && !stream.write(events) && !(await stream.drained())) break;
  }
  // Cut short (client gone, shutdown): the client resumes from the last id it got.
  if (stream.done || c.isStopping()) return stream.end();
  stream.write(encoder.flush());
  let final: unknown;
  try {
    final = statusJson(c.jobs.resolve(job.uuid), c.jobs);
  } catch (e) {
    final = { uuid: job.uuid, error: (e as Error).message, code: e instanceof ApiError ? e.code : "INTERNAL" };
  }
  stream.send({ event: "end", data: JSON.stringify(final) });
  stream.end();
}

/** GET /v1/jobs/{id}/status: the job's status as JSON. */
function status(c: RequestContext): void {
  sendJson(c.res, 200, statusJson(c.jobs.resolve(c.id), c.jobs));
}

/** GET /v1/events[?job=id]: every change of a job's record (state, warning) as a `job` event. */
async function events(c: RequestContext): Promise<void> {
  const only = c.url.searchParams.get("job");
  const uuid = only === null ? undefined : c.jobs.resolve(only).uuid;
  const stream = c.openStream();
  stream.write(`: job events${uuid ? ` of job ${uuid}` : ""}\n\n`);
  const unsubscribe = c.jobs.watch((job) => {
    if (stream.done || (uuid && job.uuid !== uuid)) return;
    stream.send({ event: "job", data: JSON.stringify(statusJson(job, c.jobs)) });
    if (stream.backlog > MAX_EVENT_BACKLOG) {
      c.log.warn("events client too slow; disconnected", { backlog: stream.backlog });
      stream.abort();
    }
  });
  try {
    await Promise.race([stream.closedPromise(), c.stopping]);
  } finally {
    unsubscribe();
    stream.end();
  }
}

const JOB_PATH = /^\/v1\/jobs\/([0-9A-Za-z-]{1,64})\/(logs|status)$/;

/** The route for a path (and the job id in it), or undefined for an unknown path. */
export function routeOf(pathname: string): { route: Route; id: string } | undefined {
  if (pathname === "/v1/events") return { route: { rpc: "/joblet.JobService/ListJobs", handle: events }, id: "" };
  const m = JOB_PATH.exec(pathname);
  if (!m) return undefined;
  const route: Route = m[2] === "logs" ? { rpc: "/joblet.JobService/GetJobLogs", handle: logs } : { rpc: "/joblet.JobService/GetJobStatus", handle: status };
  return { route, id: m[1]! };
}
