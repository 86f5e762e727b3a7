// rnx nodes: the nodes in the client configuration, credentials masked.
import { ConfigError } from "../config/load";
import { loadRnxConfig } from "../config/rnx-load";
import { CommandError } from "./cli";
import type { GlobalOptions } from "./connection";
import { printJson } from "./output";

const mask = (v: string | undefined) => (v?.trim() ? "***" : "(none)");

export async function nodes(_args: string[], o: GlobalOptions): Promise<void> {
  let loaded;
  try {
    loaded = loadRnxConfig(o.config);
  } catch (e) {
    if (e instanceof ConfigError) throw new CommandError(e.problems.join("\n"));
    throw e;
  }
  const { config, path } = loaded;
  const chosen = o.node ?? config.default_node;
  if (o.node !== undefined && !config.nodes[o.node]) {
    throw new CommandError(`node "${o.node}" is not in ${path} (known: ${Object.keys(config.nodes).join(", ") || "none"})`);
  }
  const list = Object.entries(config.nodes).map(([name, n]) => ({
    name,
    address: n.address,
    nodeId: n.nodeId ?? "",
    default: name === chosen,
    cert: mask(n.cert),
    key: mask(n.key),
    ca: mask(n.ca),
  }));
  if (o.json) return printJson(list);
  const out = [`Nodes in ${path}:`];
  for (const n of list) {
    out.push(`${n.default ? "*" : " "} ${n.name}`, `    Address: ${n.address}`);
    if (n.nodeId) out.push(`    Node ID: ${n.nodeId}`);
    out.push(`    Cert: ${n.cert}`, `    Key: ${n.key}`, `    CA: ${n.ca}`);
  }
  process.stdout.write(`${out.join("\n")}\n`);
}
