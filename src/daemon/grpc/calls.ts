// Adapters between grpc-js handlers and the daemon's async code: errors become gRPC statuses
// (ApiError keeps its code and message; anything else is INTERNAL and logged). A request whose
// bytes do not decode reaches the handler as a MalformedRequest (see services.ts) and is answered
// INVALID_ARGUMENT here, before the handler sees it.
import * as grpc from "@grpc/grpc-js";
import { ApiError } from "../errors";
import type { Logger } from "../logging/logger";

/**
 * The request of a call whose message is not a valid protobuf encoding of its type (truncated, a
 * length past its end, a wire type its field cannot have, groups nested past any sense). grpc-js
 * would answer such a call INTERNAL ("Error deserializing request"), which blames the server; it
 * is the client's mistake, so it is answered INVALID_ARGUMENT naming the method and the problem.
 */
export class MalformedRequest {
  constructor(
    readonly method: string,
    readonly problem: string,
  ) {}

  error(): Partial<grpc.ServiceError> {
    const details = statusDetails(`request: not a valid ${this.method} message (${this.problem})`);
    return { code: grpc.status.INVALID_ARGUMENT, details, message: details };
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `s` with every lone surrogate replaced by U+FFFD. Status details travel in an HTTP/2 header that
 * grpc-js percent-encodes with encodeURI, which throws on a lone surrogate: the status is then
 * never sent and the client waits until its deadline. A message quoting client input (a YAML key
 * written "\uD800") must not do that.
 */
export function wellFormed(s: string): string {
  return s.replace(LONE_SURROGATE, "\uFFFD");
}

/** Status details at most this long once percent-encoded (the header grpc-js sends them in). */
export const MAX_DETAILS = 16 * 1024;

/**
 * Status details that can be sent: well-formed, and cut to MAX_DETAILS. An HTTP/2 header block
 * larger than the peer accepts (about 64 KB) makes the server reset the stream without a status
 * and the client's connection unusable; a message quoting a 1 MB value must not do that.
 */
export function statusDetails(s: string): string {
  const text = wellFormed(s);
  const fits = (t: string) => encodeURI(t).length <= MAX_DETAILS - 64;
  if (text.length <= MAX_DETAILS && fits(text)) return text;
  // the longest prefix that fits (percent-encoding takes 1 to 9 bytes a UTF-16 unit)
  let lo = 0;
  let hi = Math.min(text.length, MAX_DETAILS);
  const prefix = (n: number) => text.slice(0, n).replace(/[\uD800-\uDBFF]$/, "");
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(prefix(mid))) lo = mid;
    else hi = mid - 1;
  }
  const cut = prefix(lo);
  return `${cut}… (${text.length - cut.length} more characters not shown)`;
}

export function toServiceError(e: unknown, log: Logger): Partial<grpc.ServiceError> {
  if (e instanceof MalformedRequest) return e.error();
  if (e instanceof ApiError) {
    const details = statusDetails(e.message);
    return { code: grpc.status[e.code], details, message: details };
  }
  const message = statusDetails(e instanceof Error ? e.message : String(e));
  log.error("request failed", { error: message, stack: e instanceof Error ? e.stack : undefined });
  return { code: grpc.status.INTERNAL, details: `internal error: ${message}`, message };
}

/** A unary handler from an async function of the request. */
export function unary<Q, R>(log: Logger, fn: (request: Q, call: grpc.ServerUnaryCall<Q, R>) => Promise<R> | R): grpc.handleUnaryCall<Q, R> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => {
        if ((call.request as unknown) instanceof MalformedRequest) throw call.request;
        return fn(call.request, call);
      })
      .then(
        (res) => callback(null, res),
        (e) => callback(toServiceError(e, log) as grpc.ServiceError),
      )
      .catch((e: Error) => log.error("answer not sent", { error: e.message }));
  };
}

/** Messages of one server stream that may wait to be written out at a time (see serverStream). */
const MAX_MESSAGES_IN_FLIGHT = 2;

/** A server-streaming handler from an async generator; honours flow control and cancellation. */
export function serverStream<Q, R>(log: Logger, fn: (request: Q, cancelled: () => boolean) => AsyncIterable<R>): grpc.handleServerStreamingCall<Q, R> {
  return (call) => {
    let cancelled = false;
    // Messages handed to the transport and not yet written out. Bounded by us, not by the stream's
    // high-water mark (16 messages: with 1 MB log chunks, 16 MB per slow reader, and many slow
    // readers would hold gigabytes).
    let inFlight = 0;
    let wake: (() => void) | undefined;
    const written = () => {
      inFlight--;
      wake?.();
    };
    call.on("cancelled", () => {
      cancelled = true;
      wake?.(); // a writer waiting for room
    });
    void (async () => {
      try {
        if ((call.request as unknown) instanceof MalformedRequest) throw call.request;
        for await (const message of fn(call.request, () => cancelled)) {
          if (cancelled) break;
          inFlight++;
          call.write(message, written);
          while (inFlight >= MAX_MESSAGES_IN_FLIGHT && !cancelled) await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
        if (!cancelled) call.end();
      } catch (e) {
        if (!cancelled) call.emit("error", toServiceError(e, log));
      }
    })().catch((e: Error) => log.error("answer not sent", { error: e.message }));
  };
}
