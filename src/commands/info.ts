// rnx version and rnx config-help.
import { DEFAULT_CONFIG_DIR } from "../config/load";
import { rnxConfigCandidates } from "../config/rnx-load";
import { API_VERSION, VERSION } from "../version";
import type { Options } from "./cli";
import { withConnection, type GlobalOptions } from "./connection";
import { printJson } from "./output";

export async function version(program: string, _args: string[], o: Options & GlobalOptions): Promise<void> {
  const server = await withConnection(o, async (c) => (await c.call(c.monitoring, "getSystemStatus", {})).serverVersion);
  if (o.json) return printJson({ client: { version: VERSION, api: API_VERSION }, server });
  process.stdout.write(`${program} ${VERSION} (Joblet API v${API_VERSION})\n`);
  process.stdout.write(`server: ${server ? `joblet ${server.version} (${server.goVersion}, ${server.platform}, API ${server.protoTag})` : "unknown"}\n`);
}

export async function configHelp(): Promise<void> {
  process.stdout.write(`rnx reads its configuration from --config=FILE, $RNX_CONFIG, or the first of:
${rnxConfigCandidates().map((p) => `  ${p}`).join("\n")}

Get one from the server's administrator: on the server,
  joblet certs issue --role developer --name alice      (roles: admin, maintainer, developer, viewer)
writes ${DEFAULT_CONFIG_DIR}/rnx-config-alice.yml; copy it to ~/.rnx/rnx-config.yml (mode 0600).
The installer writes the admin configuration to ${DEFAULT_CONFIG_DIR}/rnx-config.yml.

Format:
  version: "3.0"
  default_node: "default"
  nodes:
    default:
      address: "server.example.com:50051"
      nodeId: "…"              # optional, shown by \`rnx nodes\`
      cert: |                  # client certificate (its OU is your role)
        -----BEGIN CERTIFICATE-----
      key: |
        -----BEGIN PRIVATE KEY-----
      ca: |                    # the server's CA
        -----BEGIN CERTIFICATE-----
`);
}
