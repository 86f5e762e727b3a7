// The daemon SIGKILLed mid-work, counted (issue 7): with <jobs> jobs running, and while one job
// writes <logMB> MB to its log. Prints what the restart found against what durable state promises.
// Run: ./node_modules/.bin/bun test/bench/crash.ts [--jobs=1000] [--logMB=1024]
import { killWhileLogging, killWithJobsRunning } from "../helpers/crash";
import { numberArg } from "../helpers/bench-report";

const JOBS = numberArg("jobs", 1000);
const LOG_MB = numberArg("logMB", 1024);

const row = (name: string, value: string, want = "") => console.log(`${name.padEnd(52)} ${value.padStart(12)}  ${want}`);
const jobs = await killWithJobsRunning(JOBS);
const log = await killWhileLogging(LOG_MB, Math.floor(LOG_MB / 2));
console.log(`\ncrash: SIGKILL of the daemon with ${JOBS} jobs running, and while one job writes ${LOG_MB} MB\n`);
row("measure", "found", "promised");
row("jobs RUNNING at the kill", String(jobs.runningAtKill), String(JOBS));
row("  FAILED with DAEMON_RESTART after the restart", String(jobs.failedRestart), String(JOBS));
row("  their processes alive after the restart", String(jobs.leftoverProcesses), "0");
row("  stale job cgroups removed by the new daemon", String(jobs.staleRemoved), "> 0");
row("  restart time (start → serving)", `${(jobs.restartMs / 1000).toFixed(1)} s`);
row("  a new job runs afterwards", jobs.newJobCompleted ? "yes" : "NO", "yes");
row("log bytes at the kill / in the log after", `${(log.atKill / 2 ** 20).toFixed(1)} / ${(log.after / 2 ** 20).toFixed(1)} MB`, "after ≥ at the kill");
row("  the log is a prefix of the job's output", log.prefix ? "yes" : "NO", "yes");
row("  the job's state", `${log.status} ${log.reason}`, "FAILED DAEMON_RESTART");
const ok = jobs.failedRestart === JOBS && jobs.leftoverProcesses === 0 && jobs.newJobCompleted && log.prefix && log.after >= log.atKill && log.reason === "DAEMON_RESTART";
console.log(`\n${ok ? "everything as promised" : "NOT as promised"}`);
process.exitCode = ok ? 0 : 1;
