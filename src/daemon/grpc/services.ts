// Every service of the wire API, with the handlers implemented so far; the rest answer
// UNIMPLEMENTED naming the capability that will provide them.
import type * as grpc from "@grpc/grpc-js";
import {
  MonitoringServiceService,
  NetworkServiceService,
  RuntimeServiceService,
  VolumeServiceService,
  WorkflowServiceService,
  type EmptyRequest,
  type SystemStatusResponse,
} from "../../gen/joblet";
import { cpuMetrics, hostInfo, memoryMetrics, serverVersion } from "../monitoring/system";
import type { JobManager } from "../jobs/job-manager";
import type { Logger } from "../logging/logger";
import { serverJobService } from "../../api/codecs";
import type { WorkflowManager } from "../workflows/workflow-manager";
import { MalformedRequest, unary } from "./calls";
import { jobService } from "./job-service";
import { workflowService } from "./workflow-service";
import { withUnimplemented } from "./unimplemented";

export interface ServiceContext {
  nodeId: string;
  jobs: JobManager;
  workflows: WorkflowManager;
  log: Logger;
}

/** Why a request's bytes did not decode, for the client (the decoder's words; a stack overflow on nested groups as what it is). */
function decodeProblem(e: unknown): string {
  if (e instanceof RangeError && /call stack/i.test(e.message)) return "nested too deeply";
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/\s+/g, " ").slice(0, 200) || "undecodable";
}

/**
 * `service` whose request decoders never throw: bytes that are not a valid encoding become a
 * MalformedRequest, which the handlers (calls.ts) answer INVALID_ARGUMENT. (A decoder that throws
 * makes grpc-js answer INTERNAL, as if the server had failed.)
 */
export function tolerant<S extends grpc.ServiceDefinition>(service: S): S {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, m] of Object.entries(service)) {
    const method = m.path.replace(/^\//, "");
    out[name] = {
      ...m,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return m.requestDeserialize(bytes);
        } catch (e) {
          return new MalformedRequest(method, decodeProblem(e));
        }
      },
    };
  }
  return out as S;
}

export function registerServices(server: grpc.Server, ctx: ServiceContext): void {
  server.addService(tolerant(serverJobService), jobService(ctx.jobs, ctx.log));
  server.addService(tolerant(WorkflowServiceService), workflowService(ctx.workflows, ctx.log));
  server.addService(tolerant(NetworkServiceService), withUnimplemented(NetworkServiceService, "networking"));
  server.addService(tolerant(VolumeServiceService), withUnimplemented(VolumeServiceService, "volumes"));
  server.addService(tolerant(RuntimeServiceService), withUnimplemented(RuntimeServiceService, "runtimes"));
  server.addService(
    tolerant(MonitoringServiceService),
    withUnimplemented(MonitoringServiceService, "system metrics streaming", {
      getSystemStatus: unary<EmptyRequest, SystemStatusResponse>(ctx.log, () => ({
        timestamp: new Date().toISOString(),
        available: true,
        host: hostInfo(ctx.nodeId),
        cpu: cpuMetrics(),
        memory: memoryMetrics(),
        disks: [],
        networks: [],
        serverVersion: serverVersion(),
      })) as grpc.UntypedHandleCall,
    }),
  );
}
