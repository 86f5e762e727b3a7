// The whole command tree of rnx (and of joblet, which adds the server commands). Command modules
// load only when their command runs, so `--help` and `--version` never load grpc-js.
import { CommandError, type CommandSpec, type GroupSpec, type OptionSpec, type Options } from "./cli";
import type { GlobalOptions } from "./connection";

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { flags: "--config <file>", description: "client configuration (default: $RNX_CONFIG, ./rnx-config.yml, ~/.rnx/rnx-config.yml, …)" },
  { flags: "--node <name>", description: "node from the configuration (default: its default_node)" },
  { flags: "--json", description: "print JSON" },
];

type Run = (args: string[], o: Options & GlobalOptions) => Promise<number | void>;
/** A command whose implementation lives in `load()`'s module, exported as `fn`. */
function lazy<M>(load: () => Promise<M>, fn: keyof M): Run {
  return async (args, o) => ((await load())[fn] as Run)(args, o);
}

const job = () => import("./job");
const workflow = () => import("./workflow");
const volume = () => import("./volume");
const network = () => import("./network");
const runtime = () => import("./runtime");
const monitor = () => import("./monitor");

export const CLIENT_GROUPS: GroupSpec[] = [
  {
    name: "job",
    description: "run and manage jobs",
    options: GLOBAL_OPTIONS,
    commands: [
      {
        name: "run",
        args: "<command> [...args]",
        description: "run a command in a new sandboxed job",
        passthrough: true,
        options: [
          { flags: "--max-cpu <percent>", description: "CPU limit in percent of one core (100 = 1 core)" },
          { flags: "--cpu-cores <list>", description: 'cores to pin the job to, e.g. "0-3" or "1,3"' },
          { flags: "--max-memory <MB>", description: "memory limit in MB" },
          { flags: "--max-iobps <bytes>", description: "IO bandwidth limit in bytes per second (reads and writes on the workspace disk)" },
          { flags: "--max-pids <n>", description: "process limit, below the server's default" },
          { flags: "--gpu <count>", description: "number of GPUs" },
          { flags: "--gpu-memory <MB>", description: "GPU memory needed, in MB" },
          { flags: "--network <name>", description: "network: bridge, isolated, none, host or a custom network" },
          { flags: "--volume <name>", description: "mount a volume at /volumes/<name> (repeatable)" },
          { flags: "--upload <file>", description: "copy a file into the job's /work (repeatable)" },
          { flags: "--upload-dir <dir>", description: "copy a directory's contents into /work (repeatable)" },
          { flags: "--runtime <name>", description: "runtime to run in, e.g. python-3.11" },
          { flags: "--workdir <path>", description: "working directory inside the job (default /work)" },
          { flags: "-e, --env <NAME=VALUE>", description: "environment variable (repeatable)" },
          { flags: "-s, --secret-env <NAME=VALUE>", description: "secret environment variable, never shown or logged (repeatable)" },
          { flags: "--schedule <when>", description: 'start later: "30s", "5min", "2h30m", "2026-11-28 15:04" (local time) or an RFC 3339 time' },
          { flags: "--cron <expr>", description: 'run again and again: "*/5 * * * *" (minute hour day month weekday, server time) or @hourly, @daily, @weekly, @monthly' },
          { flags: "--allow-overlap", description: "with --cron: start a run even while the previous one is still active" },
          { flags: "--name <name>", description: "a label for the job, shown by list and status" },
          { flags: "--timeout <duration>", description: 'wall-clock limit such as "30s" or "2h" (at most the server\'s jobTimeout)' },
          { flags: "-f, --follow", description: "stream the job's output and exit with its exit code" },
        ],
        examples: ["rnx job run -f python3 -c 'print(42)'", "rnx job run -e MODE=fast --upload=main.py --name build python3 main.py"],
        run: lazy(job, "run"),
      },
      { name: "list", description: "list jobs", run: lazy(job, "list") },
      { name: "status", args: "<uuid>", description: "show a job's state", run: lazy(job, "status") },
      { name: "log", args: "<uuid>", description: "print a job's output and follow it while it runs", run: lazy(job, "log") },
      { name: "stop", args: "<uuid>", description: "stop a running job (SIGTERM, then SIGKILL)", run: lazy(job, "stop") },
      { name: "cancel", args: "<uuid>", description: "cancel a job that has not started (scheduled, queued) or a recurring schedule", run: lazy(job, "cancel") },
      { name: "delete", args: "<uuid>", description: "delete a finished job with its logs", run: lazy(job, "remove") },
      { name: "delete-all", description: "delete every finished job", run: lazy(job, "removeAll") },
      { name: "metrics", args: "<uuid>", description: "show a job's resource samples", run: lazy(job, "metrics") },
      {
        name: "telematics",
        args: "<uuid>",
        description: "stream a job's exec/network/file events",
        options: [{ flags: "--types <list>", description: "event types: exec,connect,accept,file,mmap,mprotect,socket_data" }],
        run: lazy(job, "telematics"),
      },
    ],
  },
  {
    name: "workflow",
    description: "run jobs with dependencies from a YAML file",
    options: GLOBAL_OPTIONS,
    commands: [
      {
        name: "run",
        args: "<file>",
        description: "start a workflow (files in uploads.files are read relative to the YAML file)",
        examples: ["rnx workflow run pipeline.yaml"],
        run: lazy(workflow, "run"),
      },
      { name: "list", description: "list workflows", run: lazy(workflow, "list") },
      {
        name: "status",
        args: "<uuid>",
        description: "show a workflow and its jobs",
        options: [{ flags: "-d, --detail", description: "include the workflow YAML" }],
        run: lazy(workflow, "status"),
      },
      { name: "cancel", args: "<uuid>", description: "cancel a workflow: stop its running jobs, cancel the rest", run: lazy(workflow, "cancel") },
      { name: "delete", args: "<uuid>", description: "delete a finished workflow and its jobs", run: lazy(workflow, "remove") },
    ],
  },
  {
    name: "volume",
    description: "persistent volumes shared between jobs",
    options: GLOBAL_OPTIONS,
    commands: [
      {
        name: "create",
        args: "<name>",
        description: "create a volume",
        options: [
          { flags: "--size <size>", description: 'size such as "1GB"', required: true },
          { flags: "--type <type>", description: "filesystem or memory", default: "filesystem", choices: ["filesystem", "memory"] },
        ],
        run: lazy(volume, "create"),
      },
      { name: "list", description: "list volumes", run: lazy(volume, "list") },
      { name: "remove", args: "<name>", description: "remove a volume no job uses", run: lazy(volume, "remove") },
    ],
  },
  {
    name: "network",
    description: "job networks",
    options: GLOBAL_OPTIONS,
    commands: [
      {
        name: "create",
        args: "<name>",
        description: "create a network",
        options: [{ flags: "--cidr <cidr>", description: 'address range such as "10.10.0.0/24"', required: true }],
        run: lazy(network, "create"),
      },
      { name: "list", description: "list networks", run: lazy(network, "list") },
      { name: "remove", args: "<name>", description: "remove a network no job uses", run: lazy(network, "remove") },
    ],
  },
  {
    name: "runtime",
    description: "language runtimes for jobs",
    options: GLOBAL_OPTIONS,
    commands: [
      { name: "list", description: "list installed runtimes", run: lazy(runtime, "list") },
      { name: "info", args: "<runtime>", description: "show a runtime", run: lazy(runtime, "info") },
      { name: "test", args: "<runtime>", description: "check that a runtime works", run: lazy(runtime, "test") },
      { name: "remove", args: "<runtime>", description: "remove a runtime", run: lazy(runtime, "remove") },
      {
        name: "build",
        args: "<runtime.yaml>",
        description: "build a runtime from its YAML description",
        options: [
          { flags: "-f, --force", description: "rebuild even if it exists" },
          { flags: "-v, --verbose", description: "show the build log" },
          { flags: "--dry-run", description: "validate and plan only" },
        ],
        run: lazy(runtime, "build"),
      },
      { name: "validate", args: "<runtime.yaml>", description: "check a runtime YAML file", run: lazy(runtime, "validate") },
    ],
  },
  {
    name: "monitor",
    description: "the server host's resources",
    options: GLOBAL_OPTIONS,
    commands: [
      { name: "status", description: "host, CPU, memory and server version", run: lazy(monitor, "status") },
      { name: "top", description: "snapshot with the busiest processes", run: lazy(monitor, "top") },
      {
        name: "watch",
        description: "stream host metrics",
        options: [
          { flags: "--interval <seconds>", description: "seconds between samples", default: 5 },
          { flags: "--filter <types>", description: "cpu,memory,disk,network,io,process" },
        ],
        run: lazy(monitor, "watch"),
      },
    ],
  },
];

/** Commands directly under the program (a group with no name). */
export function rootCommands(program: string, groups: () => GroupSpec[]): GroupSpec {
  const commands: CommandSpec[] = [
    { name: "nodes", description: "list the nodes in the client configuration", options: GLOBAL_OPTIONS, run: lazy(() => import("./nodes"), "nodes") },
    {
      name: "version",
      description: "print this client's version and the server's",
      options: GLOBAL_OPTIONS,
      run: async (args, o) => (await import("./info")).version(program, args, o),
    },
    {
      name: "completion",
      args: "<shell>",
      description: "print a shell completion script (bash or zsh)",
      run: async (args) => (await import("./completion")).completion(program, groups(), args),
    },
    { name: "config-help", description: "how to get and write a client configuration", run: async () => (await import("./info")).configHelp() },
  ];
  return { name: "", description: "", commands };
}

export const SERVER_GROUPS: GroupSpec[] = [
  {
    name: "certs",
    description: "certificate authority, server and client certificates",
    commands: [
      {
        name: "init",
        description: "create the CA, the server certificate (in joblet-config.yml) and an admin rnx-config.yml",
        options: [
          { flags: "--out <dir>", description: "configuration directory", default: "/opt/joblet/config" },
          { flags: "--address <host>", description: "address clients use to reach this server (added to the certificate)" },
          { flags: "--names <list>", description: "more DNS names or IPs for the server certificate, comma-separated" },
          { flags: "--port <port>", description: "port the server listens on" },
          { flags: "--days <n>", description: "validity of the server and admin certificates in days", default: 825 },
          { flags: "--force", description: "replace an existing CA (invalidates every certificate it issued)" },
        ],
        run: lazy(() => import("./certs"), "init"),
      },
      {
        name: "issue",
        description: "write an rnx-config.yml with a new client certificate for a role",
        options: [
          { flags: "--role <role>", description: "admin, maintainer, developer or viewer", choices: ["admin", "maintainer", "developer", "viewer"], required: true },
          { flags: "--name <name>", description: "client name (certificate CN)", required: true },
          { flags: "--days <n>", description: "validity in days", default: 365 },
          { flags: "--dir <dir>", description: "configuration directory holding the CA", default: "/opt/joblet/config" },
          { flags: "--output <file>", description: "where to write (default <dir>/rnx-config-<name>.yml)" },
          { flags: "--address <host:port>", description: "server address for the client (default: the admin configuration's)" },
          { flags: "--force", description: "overwrite an existing file" },
        ],
        run: lazy(() => import("./certs"), "issue"),
      },
    ],
  },
];

export const SERVER_ROOT: CommandSpec[] = [
  {
    name: "serve",
    description: "run the daemon",
    options: [
      { flags: "--config <file>", description: "joblet-config.yml (default: $JOBLET_CONFIG_PATH, /opt/joblet/config/joblet-config.yml, …)" },
      { flags: "--pid-file <file>", description: "write the daemon's pid here" },
    ],
    run: lazy(() => import("./serve"), "serve"),
  },
];
