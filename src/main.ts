// One executable, two names: `joblet` (daemon, certificates, validation and every client command)
// and `rnx` (the client, through a symlink). Only version.ts is imported statically, so
// `--version` answers without loading the CLI framework, grpc-js or the generated code.
import { VERSION } from "./version";

const argv = process.argv.slice(2);
const invokedAs = (process.argv0.split("/").pop() ?? "").toLowerCase();
const program = invokedAs.startsWith("rnx") ? "rnx" : "joblet";

if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
  process.stdout.write(`${program} ${VERSION}\n`);
  process.exit(0);
}

const { run } = await import("./commands/dispatch");
process.exitCode = await run(program, argv);
