// rnx volume …: persistent storage shared between jobs (VolumeService).
import type { Options } from "./cli";
import { withConnection, type GlobalOptions } from "./connection";
import { printJson, printTable } from "./output";

export async function create(args: string[], o: Options & GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.volumes, "createVolume", { name: args[0]!, size: String(o.size), type: String(o.type ?? "filesystem") });
    if (o.json) printJson(r);
    else process.stdout.write(`created volume ${r.name} (${r.type}, ${r.size})\n`);
  });
}

export async function list(_args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const { volumes } = await c.call(c.volumes, "listVolumes", {});
    if (o.json) return printJson(volumes);
    printTable(["NAME", "TYPE", "SIZE", "JOBS", "CREATED"], volumes.map((v) => [v.name, v.type, v.size, String(v.jobCount), v.createdTime]));
  });
}

export async function remove(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.volumes, "removeVolume", { name: args[0]! });
    if (o.json) printJson(r);
    else process.stdout.write(`${r.message || `removed volume ${args[0]}`}\n`);
  });
}
