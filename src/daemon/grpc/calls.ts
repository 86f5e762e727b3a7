// Adapters between grpc-js handlers and the daemon's async code: errors become gRPC statuses
// (ApiError keeps its code and message; anything else is INTERNAL and logged).
import * as grpc from "@grpc/grpc-js";
import { ApiError } from "../errors";
import type { Logger } from "../logging/logger";

export function toServiceError(e: unknown, log: Logger): Partial<grpc.ServiceError> {
  if (e instanceof ApiError) return { code: grpc.status[e.code], details: e.message, message: e.message };
  const message = e instanceof Error ? e.message : String(e);
  log.error("request failed", { error: message, stack: e instanceof Error ? e.stack : undefined });
  return { code: grpc.status.INTERNAL, details: `internal error: ${message}`, message };
}

/** A unary handler from an async function of the request. */
export function unary<Q, R>(log: Logger, fn: (request: Q, call: grpc.ServerUnaryCall<Q, R>) => Promise<R> | R): grpc.handleUnaryCall<Q, R> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (res) => callback(null, res),
        (e) => callback(toServiceError(e, log) as grpc.ServiceError),
      );
  };
}

/** A server-streaming handler from an async generator; honours flow control and cancellation. */
export function serverStream<Q, R>(log: Logger, fn: (request: Q, cancelled: () => boolean) => AsyncIterable<R>): grpc.handleServerStreamingCall<Q, R> {
  return (call) => {
    let cancelled = false;
    call.on("cancelled", () => {
      cancelled = true;
      call.emit("drain"); // wake a writer waiting for drain
    });
    void (async () => {
      try {
        for await (const message of fn(call.request, () => cancelled)) {
          if (cancelled) break;
          if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
        }
        if (!cancelled) call.end();
      } catch (e) {
        if (!cancelled) call.emit("error", toServiceError(e, log));
      }
    })();
  };
}
