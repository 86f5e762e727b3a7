// joblet serve: load and check the configuration, then run the daemon until SIGTERM/SIGINT.
import { readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { ConfigError, loadServerConfig } from "../config/load";
import { abiVersion, checkLibrary } from "../ffi/libjoblet";
import { Daemon } from "../daemon/daemon";
import { Logger } from "../daemon/logging/logger";
import { VERSION } from "../version";
import { CommandError, type Options } from "./cli";
import { credentialProblems } from "./validate";

export async function serve(_args: string[], o: Options & { config?: string }): Promise<number> {
  let loaded;
  try {
    loaded = loadServerConfig({ path: o.config });
  } catch (e) {
    if (e instanceof ConfigError) throw new CommandError(`configuration is invalid:\n${e.problems.map((p) => `  ${p}`).join("\n")}`);
    throw e;
  }
  const { config } = loaded;
  const problems = credentialProblems(config);
  if (problems.length) {
    throw new CommandError(`cannot serve: ${problems.join("; ")}${problems.some((p) => p.endsWith("not set")) ? " (run `joblet certs init`)" : ""}`);
  }
  checkLibrary();

  const log = Logger.create(config.logging);
  log.info("starting joblet", { version: VERSION, libjobletAbi: abiVersion(), config: loaded.path, pid: process.pid });
  for (const w of loaded.warnings) log.warn(w);
  for (const p of loaded.pending) log.warn(`${p.key} is not implemented yet (${p.feature}); it has no effect`);

  const pidFile = o.pidFile === undefined ? undefined : String(o.pidFile);
  if (pidFile) claimPidFile(pidFile);
  let daemon: Daemon;
  try {
    daemon = await Daemon.start(config, log);
  } catch (e) {
    log.error((e as Error).message);
    log.close();
    if (pidFile) releasePidFile(pidFile);
    // The exit watcher may already be running and would keep the process alive: exit here.
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(1);
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info("shutting down", { signal });
      void daemon.stop().then(resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  if (pidFile) releasePidFile(pidFile);
  log.close();
  // The exit watcher's pipe keeps the event loop alive by design; the daemon is done now.
  process.exit(0);
}

function pidIn(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Refuses to start when the pid file names a live joblet; otherwise writes ours atomically. */
function claimPidFile(file: string): void {
  const other = pidIn(file);
  if (other !== undefined && other !== process.pid) {
    let exe = "";
    try {
      exe = readlinkSync(`/proc/${other}/exe`).replace(/ \(deleted\)$/, "");
    } catch {
      // not running: a stale file
    }
    if (exe && exe === process.execPath) throw new CommandError(`joblet is already running as pid ${other} (${file})`);
  }
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}

/** Removes the pid file only if it is still ours. */
function releasePidFile(file: string): void {
  if (pidIn(file) === process.pid) rmSync(file, { force: true });
}
