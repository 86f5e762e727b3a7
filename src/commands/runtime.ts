// rnx runtime …: language runtimes built from YAML (RuntimeService).
import { readFileSync } from "node:fs";
import { CommandError, type Options } from "./cli";
import { withConnection, type GlobalOptions } from "./connection";
import { printFields, printJson, printTable } from "./output";

function readSpec(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new CommandError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

export async function list(_args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const { runtimes } = await c.call(c.runtimes, "listRuntimes", {});
    if (o.json) return printJson(runtimes);
    printTable(["NAME", "LANGUAGE", "VERSION", "AVAILABLE"], runtimes.map((r) => [r.name, r.language, r.version, r.available ? "yes" : "no"]));
  });
}

export async function info(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.runtimes, "getRuntimeInfo", { runtime: args[0]! });
    if (o.json) return printJson(r);
    if (!r.found || !r.runtime) throw new CommandError(`runtime ${args[0]} not found`);
    printFields([["Name", r.runtime.name], ["Language", r.runtime.language], ["Version", r.runtime.version], ["Description", r.runtime.description]]);
  });
}

export async function test(args: string[], o: GlobalOptions): Promise<number> {
  return withConnection(o, async (c) => {
    const r = await c.call(c.runtimes, "testRuntime", { runtime: args[0]! });
    if (o.json) printJson(r);
    else process.stdout.write(r.success ? `${r.output}\n` : `runtime test failed: ${r.error}\n`);
    return r.success ? 0 : 1;
  });
}

export async function remove(args: string[], o: GlobalOptions): Promise<void> {
  await withConnection(o, async (c) => {
    const r = await c.call(c.runtimes, "removeRuntime", { runtime: args[0]! });
    if (o.json) printJson(r);
    else process.stdout.write(`${r.message || `removed runtime ${args[0]}`}\n`);
  });
}

export async function validate(args: string[], o: GlobalOptions): Promise<number> {
  const yamlContent = readSpec(args[0]!);
  return withConnection(o, async (c) => {
    const r = await c.call(c.runtimes, "validateRuntimeYaml", { yamlContent });
    if (o.json) printJson(r);
    else process.stdout.write([r.valid ? "valid" : "invalid", ...r.errors.map((e) => `error: ${e}`), ...r.warnings.map((w) => `warning: ${w}`)].join("\n") + "\n");
    return r.valid ? 0 : 1;
  });
}

export async function build(args: string[], o: Options & GlobalOptions): Promise<number> {
  const yamlContent = readSpec(args[0]!);
  return withConnection(o, async (c) => {
    let ok = false;
    for await (const p of c.stream(c.runtimes, "buildRuntime", { yamlContent, dryRun: Boolean(o.dryRun), verbose: Boolean(o.verbose), forceRebuild: Boolean(o.force) })) {
      if (o.json) printJson(p);
      else if (p.phase) process.stdout.write(`[${p.phase.phaseNumber}/${p.phase.totalPhases}] ${p.phase.phaseName}: ${p.phase.message}\n`);
      else if (p.log) process.stdout.write(`${p.log.message}\n`);
      else if (p.result) {
        ok = p.result.success;
        process.stdout.write(`${p.result.message}\n`);
      }
    }
    return ok ? 0 : 1;
  });
}
