// The command-line framework: command groups as data (so help and shell completion come from one
// description), each group parsed by its own cac instance. Command modules are loaded lazily.
import { cac } from "cac";

export interface OptionSpec {
  /** cac syntax: "--max-cpu <percent>", "-e, --env <KEY=VALUE>", "--json" */
  flags: string;
  description: string;
  default?: string | number | boolean;
  /** values offered by shell completion */
  choices?: readonly string[];
  /** the command cannot run without it */
  required?: boolean;
}

export type Options = Record<string, unknown>;

export interface CommandSpec {
  name: string;
  /** cac argument syntax: "<uuid>", "<command> [...args]" */
  args?: string;
  description: string;
  options?: OptionSpec[];
  /** options stop at the first positional argument; the rest is passed through untouched */
  passthrough?: boolean;
  examples?: string[];
  run(args: string[], options: Options): Promise<number | void>;
}

export interface GroupSpec {
  name: string;
  description: string;
  commands: CommandSpec[];
  /** options every command of the group takes (e.g. --config, --node, --json) */
  options?: OptionSpec[];
}

/** Bad command-line usage: exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** An error already explained to the user in one line: exit status 1. */
export class CommandError extends Error {
  override name = "CommandError";
}

const takesValue = (o: OptionSpec) => /[<[]/.test(o.flags);

function optionNames(o: OptionSpec): string[] {
  return o.flags
    .replace(/\s*[<[].*$/, "")
    .split(",")
    .map((s) => s.trim());
}

/** Inserts "--" before the first positional so cac leaves the job's own arguments alone. */
export function splitPassthrough(argv: string[], options: OptionSpec[]): string[] {
  const valued = new Set(options.filter(takesValue).flatMap(optionNames));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return argv;
    if (!a.startsWith("-") || a === "-") return [...argv.slice(0, i), "--", ...argv.slice(i)];
    if (!a.includes("=") && valued.has(a)) i++; // the option's value
  }
  return argv;
}

/** A repeatable option's values as a list. */
export function listOption(v: unknown): string[] {
  if (v === undefined || v === null || v === false) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** Parses and runs one command of a group. Returns the exit status. */
export async function runGroup(program: string, group: GroupSpec, argv: string[]): Promise<number> {
  const title = group.name ? `${program} ${group.name}` : program;
  const cli = cac(title);
  const common = group.options ?? [];
  for (const o of common) cli.option(o.flags, o.description, o.default === undefined ? undefined : { default: o.default });
  for (const spec of group.commands) {
    const cmd = cli.command(`${spec.name}${spec.args ? ` ${spec.args}` : ""}`, spec.description);
    for (const o of spec.options ?? []) cmd.option(o.flags, o.description, o.default === undefined ? undefined : { default: o.default });
    for (const e of spec.examples ?? []) cmd.example(e);
    cmd.action(() => undefined);
  }
  cli.help();

  const name = argv[0];
  const spec = group.commands.find((c) => c.name === name);
  if (spec?.passthrough) argv = [name!, ...splitPassthrough(argv.slice(1), [...common, ...(spec.options ?? [])])];

  let parsed: ReturnType<typeof cli.parse>;
  try {
    parsed = cli.parse(["joblet", program, ...argv], { run: false });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.options.help) return 0; // cac printed the help
  const chosen = group.commands.find((c) => c.name === cli.matchedCommandName);
  if (!chosen) {
    if (!name) {
      cli.outputHelp();
      return 2;
    }
    throw new UsageError(`unknown command "${title} ${name}" (run "${title} --help")`);
  }
  const args = [...parsed.args.map(String), ...listOption(parsed.options["--"])];
  try {
    // cac validates options only when it runs the command itself; arity is checked here
    // because passthrough arguments arrive after "--".
    cli.matchedCommand?.checkUnknownOptions();
    cli.matchedCommand?.checkOptionValue();
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (run "${title} ${chosen.name} --help")`);
  }
  for (const o of chosen.options ?? []) {
    const long = optionNames(o).find((n) => n.startsWith("--"))!;
    const key = long.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (o.required && parsed.options[key] === undefined) throw new UsageError(`${title} ${chosen.name}: ${long} is required (${o.description})`);
  }
  const required = (chosen.args?.match(/<[^>]+>/g) ?? []).length;
  const variadic = chosen.args?.includes("...") ?? false;
  const allowed = variadic ? Infinity : (chosen.args?.match(/[<[][^>\]]+[>\]]/g) ?? []).length;
  if (args.length < required) throw new UsageError(`${title} ${chosen.name}: expected ${chosen.args} (run "${title} ${chosen.name} --help")`);
  if (args.length > allowed) throw new UsageError(`${title} ${chosen.name}: unexpected argument "${args[allowed]}" (run "${title} ${chosen.name} --help")`);
  const status = await chosen.run(args, parsed.options);
  return status ?? 0;
}
