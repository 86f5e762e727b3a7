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
import { jobService } from "./job-service";
import { workflowService } from "./workflow-service";
import { withUnimplemented } from "./unimplemented";

export interface ServiceContext {
  nodeId: string;
  jobs: JobManager;
  workflows: WorkflowManager;
  log: Logger;
}

export function registerServices(server: grpc.Server, ctx: ServiceContext): void {
  server.addService(serverJobService, jobService(ctx.jobs, ctx.log));
  server.addService(WorkflowServiceService, workflowService(ctx.workflows, ctx.log));
  server.addService(NetworkServiceService, withUnimplemented(NetworkServiceService, "networking"));
  server.addService(VolumeServiceService, withUnimplemented(VolumeServiceService, "volumes"));
  server.addService(RuntimeServiceService, withUnimplemented(RuntimeServiceService, "runtimes"));
  server.addService(
    MonitoringServiceService,
    withUnimplemented(MonitoringServiceService, "system metrics streaming", {
      getSystemStatus: ((_call: grpc.ServerUnaryCall<EmptyRequest, SystemStatusResponse>, done: grpc.sendUnaryData<SystemStatusResponse>) =>
        done(null, {
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
