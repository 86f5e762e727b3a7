// Routes argv to a command group or a top-level command and turns errors into exit statuses:
// 0 ok, 1 error, 2 usage.
import { ConfigError } from "../config/errors";
import { VERSION } from "../version";
import { CommandError, runGroup, UsageError, type GroupSpec } from "./cli";
import { CLIENT_GROUPS, rootCommands, SERVER_GROUPS, SERVER_ROOT } from "./tree";

const VALUED_GLOBALS = new Set(["--config", "--node"]);

/** Global options written before the group (`rnx --node prod job list`) move after the command name. */
function hoistGlobals(argv: string[]): { hoisted: string[]; rest: string[] } {
  const hoisted: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (VALUED_GLOBALS.has(a) && i + 1 < argv.length) hoisted.push(a, argv[++i]!);
    else if (a === "--json" || [...VALUED_GLOBALS].some((g) => a.startsWith(`${g}=`))) hoisted.push(a);
    else break;
  }
  return { hoisted, rest: argv.slice(i) };
}

function groupsFor(program: string): GroupSpec[] {
  const groups = program === "joblet" ? [...SERVER_GROUPS, ...CLIENT_GROUPS] : [...CLIENT_GROUPS];
  const root = rootCommands(program, () => all);
  if (program === "joblet") root.commands.unshift(...SERVER_ROOT);
  const all = [...groups, root];
  return all;
}

function help(program: string, groups: GroupSpec[]): string {
  const named = groups.filter((g) => g.name);
  const root = groups.find((g) => !g.name)!;
  const pad = Math.max(...[...named.map((g) => g.name), ...root.commands.map((c) => c.name)].map((n) => n.length)) + 2;
  const lines = [
    `${program} ${VERSION}: ${program === "rnx" ? "client for the joblet" : "joblet,"} micro-container runtime for untrusted Linux jobs`,
    "",
    `Usage: ${program} [--config FILE] [--node NAME] [--json] <group> <command> [options]`,
    ...(program === "joblet" ? [`       ${program} --config=FILE --validate`] : []),
    "",
    "Groups:",
    ...named.map((g) => `  ${g.name.padEnd(pad)}${g.description}`),
    "",
    "Commands:",
    ...root.commands.map((c) => `  ${c.name.padEnd(pad)}${c.description}`),
    "",
    `Run "${program} <group> --help" for a group's commands, "${program} --version" for the version.`,
  ];
  return `${lines.join("\n")}\n`;
}

function valueOf(argv: string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag) return argv[i + 1];
    if (argv[i]!.startsWith(`${flag}=`)) return argv[i]!.slice(flag.length + 1);
  }
  return undefined;
}

async function dispatch(program: string, argv: string[]): Promise<number> {
  if (program === "joblet" && argv.includes("--validate")) {
    const unexpected = argv.filter((a, i) => a !== "--validate" && !a.startsWith("--config=") && a !== "--config" && argv[i - 1] !== "--config");
    if (unexpected.length) throw new UsageError(`--validate takes only --config=FILE, got ${unexpected.join(" ")}`);
    return (await import("./validate")).validate([], { config: valueOf(argv, "--config") });
  }
  const groups = groupsFor(program);
  const { hoisted, rest } = hoistGlobals(argv);
  const head = rest[0];
  if (!head || head === "--help" || head === "-h" || head === "help") {
    process.stdout.write(help(program, groups));
    return head ? 0 : 2;
  }
  const group = groups.find((g) => g.name && g.name === head);
  if (group) {
    const [command, ...args] = rest.slice(1);
    return runGroup(program, group, command === undefined ? hoisted : [command, ...hoisted, ...args]);
  }
  const root = groups.find((g) => !g.name)!;
  if (root.commands.some((c) => c.name === head)) return runGroup(program, root, [head, ...hoisted, ...rest.slice(1)]);
  throw new UsageError(`unknown command "${head}" (run "${program} --help")`);
}

export async function run(program: string, argv: string[]): Promise<number> {
  try {
    return await dispatch(program, argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    if (e instanceof CommandError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`error: ${e.problems.join("\n  ")}\n`);
      return 1;
    }
    process.stderr.write(`error: ${(e as Error).message ?? String(e)}\n`);
    if (process.env.JOBLET_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}
