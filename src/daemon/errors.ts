// Errors the daemon's layers raise for the API to report: a gRPC status name and a message a
// person can act on. Kept free of grpc-js so the job layers do not depend on the transport.

export type ApiCode = "INVALID_ARGUMENT" | "NOT_FOUND" | "FAILED_PRECONDITION" | "UNIMPLEMENTED" | "RESOURCE_EXHAUSTED" | "ALREADY_EXISTS" | "UNAVAILABLE" | "INTERNAL";

export class ApiError extends Error {
  constructor(
    readonly code: ApiCode,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const invalid = (message: string) => new ApiError("INVALID_ARGUMENT", message);
export const notFound = (message: string) => new ApiError("NOT_FOUND", message);
export const precondition = (message: string) => new ApiError("FAILED_PRECONDITION", message);
export const unimplemented = (feature: string) => new ApiError("UNIMPLEMENTED", `${feature} is not implemented yet on this server`);
