// The client side of the wire: rnx-config.yml → a node → mTLS channel → typed service clients.
// Every failure becomes one line a person can act on (see diagnose.ts).
import * as grpc from "@grpc/grpc-js";
import { ConfigError } from "../config/load";
import { loadRnxConfig, selectNode } from "../config/rnx-load";
import { DEFAULT_SERVER_NAME, type RnxNode } from "../config/rnx-schema";
import {
  JobServiceClient,
  MonitoringServiceClient,
  NetworkServiceClient,
  RuntimeServiceClient,
  VolumeServiceClient,
  WorkflowServiceClient,
} from "../gen/joblet";
import { JobClient } from "../api/codecs";
import { CommandError } from "./cli";
import { diagnoseConnection } from "./diagnose";

export interface GlobalOptions {
  config?: string;
  node?: string;
  json?: boolean;
}

// ts-proto's client methods are overloaded; the last overload (request, metadata, options, callback) is matched.
type Callback<R> = (error: grpc.ServiceError | null, response: R) => void;
type UnaryMethod<Q, R> = (request: Q, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: Callback<R>) => grpc.ClientUnaryCall;
type Req<F> = F extends UnaryMethod<infer Q, unknown> ? Q : never;
type Res<F> = F extends UnaryMethod<never, infer R> ? R : never;
type StreamMethod<Q, R> = (request: Q, metadata?: grpc.Metadata, options?: Partial<grpc.CallOptions>) => grpc.ClientReadableStream<R>;
type SReq<F> = F extends StreamMethod<infer Q, unknown> ? Q : never;
type SRes<F> = F extends StreamMethod<never, infer R> ? R : never;

// grpc-js would print its own errors to stderr; rnx explains failures itself (see explain()).
grpc.setLogger({ error: (...args: unknown[]) => process.env.JOBLET_DEBUG && process.stderr.write(`grpc: ${args.map(String).join(" ")}\n`) });
grpc.setLogVerbosity(grpc.logVerbosity.ERROR);

export class Connection {
  readonly jobs: JobServiceClient;
  readonly networks: NetworkServiceClient;
  readonly volumes: VolumeServiceClient;
  readonly monitoring: MonitoringServiceClient;
  readonly runtimes: RuntimeServiceClient;
  readonly workflows: WorkflowServiceClient;
  private readonly channel: grpc.Channel;

  constructor(
    readonly nodeName: string,
    readonly node: RnxNode,
    private readonly timeoutMs: number,
  ) {
    const { cert, key, ca } = node;
    const missing = [!cert && "cert", !key && "key", !ca && "ca"].filter(Boolean);
    if (missing.length) throw new CommandError(`node "${nodeName}" has no ${missing.join(", ")} in its client configuration`);
    const serverName = node.serverName ?? DEFAULT_SERVER_NAME;
    const credentials = grpc.credentials.createSsl(Buffer.from(ca!), Buffer.from(key!), Buffer.from(cert!));
    this.channel = new grpc.Channel(node.address, credentials, {
      // no DNS TXT lookup for a service config: it would send a query for every address (even
      // "localhost") and, unanswered, keep rnx alive for ~20 s after its call is done
      "grpc.service_config_disable_resolution": 1,
      "grpc.ssl_target_name_override": serverName,
      "grpc.default_authority": serverName,
      "grpc.max_receive_message_length": 128 * 1024 * 1024,
      // a 64 kB HTTP/2 window would cap a log stream at one window per round trip (~130 MB/s)
      "grpc-node.flow_control_window": 16 * 1024 * 1024,
      "grpc.max_send_message_length": 128 * 1024 * 1024,
    });
    const shared = { channelOverride: this.channel };
    this.jobs = new JobClient(node.address, credentials, shared);
    this.networks = new NetworkServiceClient(node.address, credentials, shared);
    this.volumes = new VolumeServiceClient(node.address, credentials, shared);
    this.monitoring = new MonitoringServiceClient(node.address, credentials, shared);
    this.runtimes = new RuntimeServiceClient(node.address, credentials, shared);
    this.workflows = new WorkflowServiceClient(node.address, credentials, shared);
  }

  /** One unary call with the configured deadline; failures are CommandErrors. */
  async call<C, K extends keyof C>(client: C, method: K, request: Req<C[K]>): Promise<Res<C[K]>> {
    const fn = client[method] as unknown as UnaryMethod<Req<C[K]>, Res<C[K]>>;
    try {
      return await new Promise<Res<C[K]>>((resolve, reject) =>
        fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + this.timeoutMs }, (err, res) => (err ? reject(err) : resolve(res))),
      );
    } catch (e) {
      throw await this.explain(e as grpc.ServiceError);
    }
  }

  /** A server-streaming call as an async iterable; failures are CommandErrors. */
  async *stream<C, K extends keyof C>(client: C, method: K, request: SReq<C[K]>): AsyncGenerator<SRes<C[K]>> {
    const fn = client[method] as unknown as StreamMethod<SReq<C[K]>, SRes<C[K]>>;
    const call = fn.call(client, request, new grpc.Metadata());
    try {
      for await (const message of call) yield message as SRes<C[K]>;
    } catch (e) {
      throw await this.explain(e as grpc.ServiceError);
    } finally {
      call.cancel();
    }
  }

  async explain(err: grpc.ServiceError): Promise<CommandError> {
    switch (err.code) {
      case grpc.status.UNAVAILABLE:
        return new CommandError(await diagnoseConnection(this.nodeName, this.node, err.details));
      case grpc.status.DEADLINE_EXCEEDED:
        return new CommandError(`no answer from ${this.node.address} within ${this.timeoutMs / 1000}s (node "${this.nodeName}")`);
      case grpc.status.PERMISSION_DENIED:
      case grpc.status.UNIMPLEMENTED:
        return new CommandError(err.details);
      default:
        return new CommandError(`${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`);
    }
  }

  close(): void {
    this.channel.close(); // shared by every service client
  }
}

/** Loads the client configuration and opens a connection to the chosen node. */
export function connect(opts: GlobalOptions): Connection {
  try {
    const { config } = loadRnxConfig(opts.config);
    const { name, node } = selectNode(config, opts.node);
    return new Connection(name, node, node.timeout ?? config.global.timeout);
  } catch (e) {
    if (e instanceof ConfigError) throw new CommandError(e.problems.join("\n"));
    throw e;
  }
}

/** Runs `fn` with a connection and always closes it. */
export async function withConnection<T>(opts: GlobalOptions, fn: (c: Connection) => Promise<T>): Promise<T> {
  const conn = connect(opts);
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}
