// rnx network …: job networks (NetworkService).
import type { Options } from "./cli";
import { withConnection, type GlobalOptions } from "./connection";
import { printJson, printTable } from "./output";

export async function create(args: string[], o: Options & GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.networks, "createNetwork", { name: args[0]!, cidr: String(o.cidr) });
    if (o.json) printJson(r);
    else process.stdout.write(`created network ${r.name} (${r.cidr}, bridge ${r.bridge})\n`);
  });
}

export async function list(_args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const { networks } = await c.call(c.networks, "listNetworks", {});
    if (o.json) return printJson(networks);
    printTable(["NAME", "CIDR", "BRIDGE", "JOBS"], networks.map((n) => [n.name, n.cidr, n.bridge, String(n.jobCount)]));
  });
}

export async function remove(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.networks, "removeNetwork", { name: args[0]! });
    if (o.json) printJson(r);
    else process.stdout.write(`${r.message || `removed network ${args[0]}`}\n`);
  });
}
