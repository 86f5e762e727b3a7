// Handlers for RPCs whose capability has not landed yet: each answers UNIMPLEMENTED naming the feature.
import * as grpc from "@grpc/grpc-js";

export function notImplemented(feature: string): grpc.ServiceError {
  return Object.assign(new Error(`${feature} is not implemented yet on this server`), {
    code: grpc.status.UNIMPLEMENTED,
    details: `${feature} is not implemented yet on this server`,
    metadata: new grpc.Metadata(),
  });
}

type Call = {
  emit?: (event: "error", e: grpc.ServiceError) => void;
};

/** A handler for every method of `service` not present in `implemented`. */
export function withUnimplemented<S extends grpc.ServiceDefinition>(
  service: S,
  feature: string,
  implemented: Partial<Record<keyof S, grpc.UntypedHandleCall>> = {},
): grpc.UntypedServiceImplementation {
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(service)) {
    const own = implemented[name as keyof S];
    if (own) {
      handlers[name] = own;
    } else if (method.responseStream || method.requestStream) {
      handlers[name] = ((call: Call) => call.emit?.("error", notImplemented(feature))) as grpc.UntypedHandleCall;
    } else {
      handlers[name] = ((_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback(notImplemented(feature))) as grpc.UntypedHandleCall;
    }
  }
  return handlers;
}
