// Workflows against a real daemon: a diamond runs in order with its uploads; a failure cancels what
// can no longer run and releases what asked for it; every validation error is reported before
// anything is created (by rnx and by the server); cancel and delete; a step's job deleted midway;
// one run slot; list/status output; RBAC; SIGKILL and SIGTERM mid-workflow, with sealed secrets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { randomUUID } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { WorkflowServiceClient, type GetWorkflowStatusResponse, type JobServiceClient, type RunWorkflowRequest, type WorkflowJob } from "../../src/gen/joblet";
import type { CertBundle } from "../../src/pki/authority";
import { call, isError, jobClient, readLogs, type RpcError } from "../helpers/client";
import { startDaemon, type DaemonOptions, type TestDaemon } from "../helpers/daemon";
import { makePki, type TestPki } from "../helpers/pki";
import { rnx } from "../helpers/run";
import { until } from "../helpers/wait";

const work = mkdtempSync(join(tmpdir(), "workflows-test-"));
let d: TestDaemon;
let jobs: JobServiceClient;
let flows: WorkflowServiceClient;

beforeAll(async () => {
  d = await startDaemon({ config: { joblet: { cleanupTimeout: "2s" } } });
  jobs = jobClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
  flows = workflowClient(d.address, d.pki.ca.cert, d.pki.clients.admin);
});
afterAll(async () => {
  jobs?.close();
  flows?.close();
  await d?.stop();
  rmSync(work, { recursive: true, force: true });
});

function workflowClient(address: string, ca: string, client: CertBundle): WorkflowServiceClient {
  return new WorkflowServiceClient(address, grpc.credentials.createSsl(Buffer.from(ca), Buffer.from(client.key), Buffer.from(client.cert)), {
    "grpc.ssl_target_name_override": "joblet",
    "grpc.max_send_message_length": 64 * 1024 * 1024,
  });
}

const CODES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION"];

function expectError(v: unknown, code: string, ...texts: string[]): void {
  expect(isError(v) ? { code: CODES[v.code], details: v.details } : v).toEqual({ code, details: expect.any(String) as unknown as string });
  for (const t of texts) expect((v as RpcError).details).toContain(t);
}

/** A file under the test's directory (parents created); its path. */
function put(path: string, text: string, mode = 0o644): string {
  const full = join(work, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text);
  chmodSync(full, mode);
  return full;
}

const yaml = (spec: Record<string, unknown>) => stringify(spec);
const sh = (script: string, extra: Record<string, unknown> = {}) => ({ command: "sh", args: ["-c", script], ...extra });
const req = (job: string, status: string) => ({ [job]: status });

/** RunWorkflow with every field at its default, then `r`. */
const runRequest = (r: Partial<RunWorkflowRequest>): RunWorkflowRequest => ({ workflow: "raw.yaml", totalJobs: 0, jobOrder: [], yamlContent: "", workflowFiles: [], ...r });

const wfStatus = async (uuid: string, includeYaml = false): Promise<GetWorkflowStatusResponse> => {
  const s = await call(flows.getWorkflowStatus, flows, { uuid, includeYaml });
  if (isError(s)) throw new Error(`${uuid}: ${s.details}`);
  return s;
};

/** The workflow's status once it has ended (COMPLETED, FAILED or CANCELED). */
async function wfEnded(uuid: string, client = flows, ms = 30_000): Promise<GetWorkflowStatusResponse> {
  let last: GetWorkflowStatusResponse | undefined;
  await until(
    `workflow ${uuid} to end`,
    async () => {
      const s = await call(client.getWorkflowStatus, client, { uuid, includeYaml: false });
      if (isError(s)) throw new Error(`${uuid}: ${s.details}`);
      last = s;
      return ["COMPLETED", "FAILED", "CANCELED"].includes(s.workflow!.status);
    },
    ms,
  );
  return last!;
}

const byName = (s: GetWorkflowStatusResponse): Record<string, WorkflowJob> => Object.fromEntries(s.jobs.map((j) => [j.jobName, j]));
const statuses = (s: GetWorkflowStatusResponse) => Object.fromEntries(s.jobs.map((j) => [j.jobName, j.status]));

/** `rnx workflow run` from `cwd`; the new workflow's uuid (throws unless it exits 0). */
function rnxRun(file: string, cwd = work, config = d.clients.admin): string {
  const r = rnx(["--config", config, "workflow", "run", file, "--json"], { cwd });
  if (r.code !== 0) throw new Error(`rnx workflow run ${file}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  return (JSON.parse(r.stdout) as { workflow_uuid: string }).workflow_uuid;
}

const logOf = async (uuid: string, client = jobs) => (await readLogs(client, uuid)).toString();
const jobUuids = async (client = jobs): Promise<string[]> => {
  const r = await call(client.listJobs, client, {});
  if (isError(r)) throw new Error(r.details);
  return r.jobs.map((j) => j.uuid).sort();
};
const ms = (t: string) => {
  const v = Date.parse(t);
  if (Number.isNaN(v)) throw new Error(`not a time: ${JSON.stringify(t)}`);
  return v;
};

let diamondUuid = "";
let failureUuid = "";

describe("running", () => {
  test("a diamond a → (b, c) → d runs in dependency order; a step's uploads are read relative to the YAML file and land in /work", async () => {
    put("diamond/script.sh", "#!/bin/sh\necho script ran in $(pwd)\n[ -x script.sh ] && echo executable\ncat lib/data.txt\n", 0o755);
    put("diamond/lib/data.txt", "data from lib\n");
    put("script.sh", "echo WRONG: read relative to the current directory\n"); // a decoy where rnx runs
    put(
      "diamond/flow.yaml",
      yaml({
        name: "diamond",
        description: "a diamond",
        jobs: {
          // in the file before what they require: the order comes from `requires`, not the file
          d: { ...sh("echo d; ls -A /work"), requires: [req("b", "COMPLETED"), req("c", "COMPLETED")] },
          b: { ...sh("sleep 0.3; echo b"), requires: [req("a", "COMPLETED")] },
          c: { ...sh("echo c"), requires: [req("a", "COMPLETED")] },
          a: { command: "sh", args: ["script.sh"], uploads: { files: ["script.sh", "lib/data.txt"] } },
        },
      }),
    );
    diamondUuid = rnxRun("diamond/flow.yaml", work); // cwd is the directory above the YAML's
    const s = await wfEnded(diamondUuid);
    expect(s.workflow).toMatchObject({ name: "diamond", workflow: "flow.yaml", status: "COMPLETED", totalJobs: 4, completedJobs: 4, failedJobs: 0, canceledJobs: 0, runningJobs: 0 });
    expect(statuses(s)).toEqual({ a: "COMPLETED", b: "COMPLETED", c: "COMPLETED", d: "COMPLETED" });
    const j = byName(s);
    expect(j.d!.dependencies).toEqual(["b: COMPLETED", "c: COMPLETED"]);

    // order, from the records: each step started after everything it requires had ended
    const after = (x: string, ...deps: string[]) => {
      for (const dep of deps) expect({ step: x, after: dep, ok: ms(j[x]!.startTime) >= ms(j[dep]!.endTime) }).toEqual({ step: x, after: dep, ok: true });
    };
    after("b", "a");
    after("c", "a");
    after("d", "b", "c");
    expect(ms(s.workflow!.completedAt)).toBeGreaterThanOrEqual(ms(j.d!.endTime));
    // the job records agree with the workflow's view
    for (const step of s.jobs) {
      const js = await call(jobs.getJobStatus, jobs, { uuid: step.jobUuid });
      if (isError(js)) throw new Error(js.details);
      expect({ name: js.name, status: js.status, startTime: js.startTime, endTime: js.endTime }).toEqual({ name: step.jobName, status: step.status, startTime: step.startTime, endTime: step.endTime });
    }

    // the uploads, as written in the YAML, from the YAML's directory; mode kept
    expect(await logOf(j.a!.jobUuid)).toBe("script ran in /work\nexecutable\ndata from lib\n");
    // a step that names no files gets none
    expect(await logOf(j.d!.jobUuid)).toBe("d\n");
    expect(await logOf(j.b!.jobUuid)).toBe("b\n");
  });

  test("a failure cancels what can no longer run (naming why) and releases what asked for it; an independent branch completes", async () => {
    put(
      "failure/flow.yaml",
      yaml({
        name: "failure",
        jobs: {
          a: sh("echo a; exit 3"),
          b: { ...sh("echo b"), requires: [req("a", "COMPLETED")] },
          c: { ...sh("echo c"), requires: [req("b", "COMPLETED")] },
          d: { ...sh("echo handling the failure"), requires: [req("a", "FAILED")] },
          e: { ...sh("echo cleanup"), requires: [req("a", "FINISHED")] },
          f: sh("sleep 0.2; echo f"),
          g: { ...sh("echo g"), requires: [req("f", "COMPLETED")] },
        },
      }),
    );
    failureUuid = rnxRun("failure/flow.yaml");
    const s = await wfEnded(failureUuid);
    expect(statuses(s)).toEqual({ a: "FAILED", b: "CANCELED", c: "CANCELED", d: "COMPLETED", e: "COMPLETED", f: "COMPLETED", g: "COMPLETED" });
    expect(s.workflow).toMatchObject({ status: "FAILED", totalJobs: 7, completedJobs: 4, failedJobs: 1, canceledJobs: 2, runningJobs: 0 });
    const j = byName(s);
    expect(j.a!.exitCode).toBe(3);
    // why each was canceled, naming the job it required
    expect(j.b!.failureMessage).toContain("a ended FAILED, required COMPLETED");
    expect(j.c!.failureMessage).toMatch(/\bb\b/);
    expect(j.c!.failureMessage).toContain("required COMPLETED");
    // canceled steps never ran: no start time, no log
    for (const name of ["b", "c"]) {
      expect({ name, startTime: j[name]!.startTime, exitCode: j[name]!.exitCode }).toEqual({ name, startTime: "", exitCode: 0 });
      const log = await readLogs(jobs, j[name]!.jobUuid).then(
        () => "a log",
        (e: grpc.ServiceError) => CODES[e.code],
      );
      expect({ name, log }).toEqual({ name, log: "NOT_FOUND" });
    }
    expect(await logOf(j.d!.jobUuid)).toBe("handling the failure\n");
    expect(await logOf(j.e!.jobUuid)).toBe("cleanup\n");
    expect(ms(j.d!.startTime)).toBeGreaterThanOrEqual(ms(j.a!.endTime));
    expect(ms(j.g!.startTime)).toBeGreaterThanOrEqual(ms(j.f!.endTime));
    // rnx shows the same
    const r = rnx(["--config", d.clients.admin, "workflow", "status", failureUuid]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("4/7 completed, 0 running, 1 failed, 2 canceled");
    expect(r.stdout).toMatch(/\bb\s+\S+\s+CANCELED\s+a: COMPLETED\s+a requirement can no longer hold: a ended FAILED, required COMPLETED/);
  });
});

describe("validation: nothing is created when anything is wrong", () => {
  const ok = sh("echo fine"); // a valid sibling in every file: the whole workflow is refused
  const bad: [string, Record<string, unknown>, string[]][] = [
    [
      "cycle",
      { ok, a: { ...ok, requires: [req("c", "COMPLETED")] }, b: { ...ok, requires: [req("a", "COMPLETED")] }, c: { ...ok, requires: [req("b", "COMPLETED")] } },
      ["jobs: dependency cycle: a → b → c → a"],
    ],
    ["unknown dependency", { ok, b: { ...ok, requires: [req("ghost", "COMPLETED")] } }, ['jobs.b.requires[0]: unknown job "ghost"']],
    ["bad env name", { ok, envy: { ...ok, environment: { "1BAD": "x" } } }, ['jobs.envy.environment: variable name "1BAD" must match']],
  ];
  // what only the server knows
  const unavailable: [string, Record<string, unknown>, string[]][] = [
    ["unknown network", { ok, net: { ...ok, network: "bridge" } }, ['jobs.net.network: network "bridge" does not exist on this server (available: none)']],
    ["unknown volume", { ok, vol: { ...ok, volumes: ["data"] } }, ['jobs.vol.volumes[0]: volume "data" does not exist']],
    ["unknown runtime", { ok, rt: { ...ok, runtime: "python-3.11" } }, ['jobs.rt.runtime: runtime "python-3.11" is not installed']],
  ];

  test("through rnx: exit 1, every message naming the job and the field", async () => {
    const before = await jobUuids();
    for (const [what, jobsSpec, texts] of [...bad, ...unavailable]) {
      const file = put(`invalid/${what.replaceAll(" ", "-")}.yaml`, yaml({ name: what, jobs: jobsSpec }));
      const r = rnx(["--config", d.clients.admin, "workflow", "run", file]);
      expect({ what, code: r.code, stdout: r.stdout }).toEqual({ what, code: 1, stdout: "" });
      for (const t of texts) expect({ what, stderr: r.stderr }).toEqual({ what, stderr: expect.stringContaining(t) as unknown as string });
    }
    // a file the YAML names that does not exist (beside the YAML; rnx runs elsewhere)
    put("invalid/present.txt", "here\n");
    put("invalid/missing-upload.yaml", yaml({ jobs: { ok, up: { ...ok, uploads: { files: ["present.txt", "absent.txt"] } } } }));
    const r = rnx(["--config", d.clients.admin, "workflow", "run", "invalid/missing-upload.yaml"], { cwd: work });
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: "" });
    expect(r.stderr).toContain('jobs.up.uploads.files[1]: "absent.txt"');
    expect(r.stderr).toContain("no such file");
    expect(r.stderr).not.toContain("present.txt");
    expect(r.stderr).toContain(join(work, "invalid", "absent.txt"));
    expect(await jobUuids()).toEqual(before);
    const list = await call(flows.listWorkflows, flows, { includeCompleted: true });
    expect(isError(list) ? list : list.workflows.map((w) => w.uuid).sort()).toEqual([diamondUuid, failureUuid].sort());
  });

  test("through the API (what rnx would refuse): INVALID_ARGUMENT naming the job and the field", async () => {
    const before = await jobUuids();
    for (const [what, jobsSpec, texts] of [...bad, ...unavailable]) {
      const r = await call(flows.runWorkflow, flows, runRequest({ workflow: `${what}.yaml`, yamlContent: yaml({ jobs: jobsSpec }) }));
      expectError(r, "INVALID_ARGUMENT", `workflow ${what}.yaml`, ...texts);
      // each problem once (a missing network is not also "not implemented")
      expect({ what, lines: (r as RpcError).details.split("\n").length }).toEqual({ what, lines: 1 + texts.length });
    }
    // an upload named but not sent; a file sent under another name does not count
    const upload = { path: "other.txt", content: Buffer.from("x"), mode: 0o644, isDirectory: false };
    const r = await call(flows.runWorkflow, flows, runRequest({ yamlContent: yaml({ jobs: { ok, up: { ...ok, uploads: { files: ["data.txt"] } } } }), workflowFiles: [upload] }));
    expectError(r, "INVALID_ARGUMENT", 'jobs.up.uploads.files: "data.txt" not sent');
    // a step that is no valid RunJob request, and every problem at once
    const many = await call(flows.runWorkflow, flows, runRequest({ yamlContent: yaml({ jobs: { ok, cores: { ...ok, resources: { cpu_cores: "0-4095" } }, net: { ...ok, network: "bridge" } } }) }));
    expectError(many, "INVALID_ARGUMENT", "jobs.cores", "cpu", 'jobs.net.network: network "bridge"');
    // not YAML at all, and a client that counted differently
    expectError(await call(flows.runWorkflow, flows, runRequest({ yamlContent: "jobs: [" })), "INVALID_ARGUMENT", "not valid YAML");
    expectError(await call(flows.runWorkflow, flows, runRequest({ yamlContent: yaml({ jobs: { ok } }), totalJobs: 2 })), "INVALID_ARGUMENT", "total_jobs");
    expect(await jobUuids()).toEqual(before);
  });
});

describe("cancel and delete", () => {
  test("cancel stops the running step and cancels the waiting ones; only once; delete waits for the end, then removes the workflow and its jobs", async () => {
    put(
      "cancel/flow.yaml",
      yaml({
        name: "cancel-me",
        jobs: {
          long: { command: "sleep", args: ["60"] },
          next: { ...sh("echo next"), requires: [req("long", "COMPLETED")] },
          cleanup: { ...sh("echo cleanup"), requires: [req("long", "FINISHED")] },
          last: { ...sh("echo last"), requires: [req("next", "FINISHED")] },
        },
      }),
    );
    const uuid = rnxRun("cancel/flow.yaml");
    await until("the long step running", async () => byName(await wfStatus(uuid)).long!.status === "RUNNING");
    const as = (...a: string[]) => rnx(["--config", d.clients.admin, "workflow", ...a]);

    // delete is refused while it runs
    const early = as("delete", uuid);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain(`FAILED_PRECONDITION: workflow ${uuid} is RUNNING; cancel it before deleting it`);
    expectError(await call(flows.deleteWorkflow, flows, { uuid }), "FAILED_PRECONDITION", "cancel it before deleting it");

    const c = as("cancel", uuid);
    expect({ code: c.code, stderr: c.stderr }).toEqual({ code: 0, stderr: "" });
    expect(c.stdout).toMatch(/Status:?\s+CANCELED/);
    const s = await wfStatus(uuid);
    expect(s.workflow!.status).toBe("CANCELED");
    // FINISHED would have held for `cleanup` once `long` stopped, but a canceled workflow starts nothing more
    expect(statuses(s)).toEqual({ long: "STOPPED", next: "CANCELED", cleanup: "CANCELED", last: "CANCELED" });
    expect(s.workflow).toMatchObject({ completedJobs: 0, failedJobs: 1, canceledJobs: 3, runningJobs: 0 });
    for (const name of ["next", "cleanup", "last"]) expect(byName(s)[name]!.failureMessage).toBe(`workflow ${uuid} was canceled`);

    // again: it is over
    const again = as("cancel", uuid);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("FAILED_PRECONDITION");
    expectError(await call(flows.cancelWorkflow, flows, { uuid }), "FAILED_PRECONDITION", "is CANCELED; only a workflow still running can be canceled");

    // delete, by a short prefix: the workflow and its four jobs are gone
    const steps = s.jobs.map((j) => j.jobUuid);
    const del = as("delete", uuid.slice(0, 8));
    expect({ code: del.code, stdout: del.stdout }).toEqual({ code: 0, stdout: `deleted workflow ${uuid} and its 4 jobs\n` });
    const left = await jobUuids();
    expect(steps.filter((u) => left.includes(u))).toEqual([]);
    expectError(await call(flows.getWorkflowStatus, flows, { uuid, includeYaml: false }), "NOT_FOUND", uuid);
    for (const u of steps) expectError(await call(jobs.getJobStatus, jobs, { uuid: u }), "NOT_FOUND", u);
    const st = as("status", uuid);
    expect(st.code).toBe(1);
    expect(st.stderr).toContain("NOT_FOUND");
  }, 30_000);
});

describe("a step's job deleted while its workflow runs", () => {
  test("what it required still holds: the workflow remembers how the step ended", async () => {
    put(
      "deleted/flow.yaml",
      yaml({
        name: "deleted-step",
        jobs: {
          a: sh("echo a"),
          // waits for a file the test puts into its workspace
          x: sh("while [ ! -e go ]; do sleep 0.05; done; echo x"),
          d: { ...sh("echo d"), requires: [req("a", "COMPLETED"), req("x", "COMPLETED")] },
        },
      }),
    );
    const uuid = rnxRun("deleted/flow.yaml");
    let x = "";
    await until("a completed, x running", async () => {
      const s = byName(await wfStatus(uuid));
      x = s.x!.jobUuid;
      return s.a!.status === "COMPLETED" && s.x!.status === "RUNNING";
    });
    const a = byName(await wfStatus(uuid)).a!.jobUuid;
    expect(isError(await call(jobs.deleteJob, jobs, { uuid: a }))).toBe(false);
    writeFileSync(join(d.dir, "jobs", x, "work", "go"), "");
    const s = await wfEnded(uuid);
    expect(statuses(s)).toEqual({ a: "COMPLETED", x: "COMPLETED", d: "COMPLETED" });
    expect(byName(s).a!.failureMessage).toBe("its job has been deleted");
    expect(s.workflow).toMatchObject({ status: "COMPLETED", totalJobs: 3, completedJobs: 3 });
    expect(await logOf(byName(s).d!.jobUuid)).toBe("d\n");
    // the rest goes with the workflow
    expect(rnx(["--config", d.clients.admin, "workflow", "delete", uuid]).stdout).toBe(`deleted workflow ${uuid} and its 2 jobs\n`);
    expect((await jobUuids()).filter((u) => s.jobs.some((j) => j.jobUuid === u))).toEqual([]);
  });
});

describe("one slot (joblet.maxConcurrentJobs: 1, maxQueuedJobs: 1)", () => {
  test("released steps wait for the slot beyond the queue bound, one at a time; cancel reaches the queued ones", async () => {
    const one = await startDaemon({ config: { joblet: { cleanupTimeout: "2s", maxConcurrentJobs: 1, maxQueuedJobs: 1 } } });
    const wf = workflowClient(one.address, one.pki.ca.cert, one.pki.clients.admin);
    const jc = jobClient(one.address, one.pki.ca.cert, one.pki.clients.admin);
    try {
      put(
        "one-slot/flow.yaml",
        yaml({
          name: "one-slot",
          jobs: {
            p1: sh("sleep 0.2; echo p1"),
            p2: sh("sleep 0.2; echo p2"),
            p3: sh("sleep 0.2; echo p3"),
            q: { ...sh("echo q"), requires: [req("p1", "FINISHED"), req("p2", "FINISHED"), req("p3", "FINISHED")] },
          },
        }),
      );
      const uuid = rnxRun("one-slot/flow.yaml", work, one.clients.admin);
      const s = await wfEnded(uuid, wf);
      expect(s.workflow!.status).toBe("COMPLETED");
      // never two at once: each started after the one before it ended
      const runs = s.jobs.map((j) => [ms(j.startTime), ms(j.endTime)] as const).sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < runs.length; i++) expect(runs[i]![0]).toBeGreaterThanOrEqual(runs[i - 1]![1]);

      put(
        "one-slot/cancel.yaml",
        yaml({ name: "queued", jobs: { long: { command: "sleep", args: ["60"] }, p: sh("echo p"), r: sh("echo r"), after: { ...sh("echo after"), requires: [req("p", "COMPLETED")] } } }),
      );
      const c = rnxRun("one-slot/cancel.yaml", work, one.clients.admin);
      const st = async () => {
        const r = await call(wf.getWorkflowStatus, wf, { uuid: c, includeYaml: false });
        if (isError(r)) throw new Error(r.details);
        return r;
      };
      await until("long running", async () => byName(await st()).long!.status === "RUNNING");
      // p and r are released (not held) and queued for the slot
      for (const name of ["p", "r"]) {
        const js = await call(jc.getJobStatus, jc, { uuid: byName(await st())[name]!.jobUuid });
        expect(isError(js) ? js : { status: js.status }).toEqual({ status: "PENDING" });
      }
      const r = await call(wf.cancelWorkflow, wf, { uuid: c });
      expect(isError(r) ? r : r.status).toBe("CANCELED");
      const after = await st();
      expect(statuses(after)).toEqual({ long: "STOPPED", p: "CANCELED", r: "CANCELED", after: "CANCELED" });
      for (const j of after.jobs.filter((x) => x.status === "CANCELED")) expect(j.startTime).toBe("");
      // the slot is free again
      const next = rnxRun("one-slot/flow.yaml", work, one.clients.admin);
      expect((await wfEnded(next, wf)).workflow!.status).toBe("COMPLETED");
    } finally {
      wf.close();
      jc.close();
      await one.stop();
    }
  }, 30_000);
});

describe("retention", () => {
  test("a running workflow keeps its finished steps past persist.retention; once it ends, they go like any job", async () => {
    const short = await startDaemon({ config: { persist: { retention: { max_age: "1s", max_size: "0", interval: "1s" } } } });
    const wf = workflowClient(short.address, short.pki.ca.cert, short.pki.clients.admin);
    const jc = jobClient(short.address, short.pki.ca.cert, short.pki.clients.admin);
    try {
      const r = await call(wf.runWorkflow, wf, runRequest({ yamlContent: yaml({ jobs: { a: sh("echo a"), b: { ...sh("sleep 4"), requires: [req("a", "COMPLETED")] } } }) }));
      if (isError(r)) throw new Error(r.details);
      const a = (await stepsIn(wf, r.workflowUuid)).a!;
      await until("a to end", async () => (await stepsIn(wf, r.workflowUuid)).a!.status === "COMPLETED");
      await Bun.sleep(2500); // older than max_age, with sweeps every second
      expect((await jobUuids(jc)).includes(a.jobUuid)).toBe(true);
      expect((await logOf(a.jobUuid, jc))).toBe("a\n");
      expect((await wfEnded(r.workflowUuid, wf)).workflow!.status).toBe("COMPLETED");
      await until("the finished workflow's steps to be swept", async () => !(await jobUuids(jc)).includes(a.jobUuid), 10_000);
    } finally {
      wf.close();
      jc.close();
      await short.stop();
    }
  }, 30_000);
});

/** A workflow's steps by name, through `client`. */
const stepsIn = async (client: WorkflowServiceClient, uuid: string) => {
  const s = await call(client.getWorkflowStatus, client, { uuid, includeYaml: false });
  if (isError(s)) throw new Error(`${uuid}: ${s.details}`);
  return byName(s);
};

describe("output", () => {
  test("rnx workflow list, status --detail and --json; short prefixes", async () => {
    const as = (...a: string[]) => rnx(["--config", d.clients.admin, "workflow", ...a]);
    const list = as("list");
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^UUID\s+NAME\s+STATUS\s+PROGRESS\s+FAILED\s+CANCELED\s+CREATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 6))).toEqual([
      [diamondUuid, "diamond", "COMPLETED", "4/4", "0", "0"],
      [failureUuid, "failure", "FAILED", "4/7", "1", "2"],
    ]);

    const json = JSON.parse(as("list", "--json").stdout) as Record<string, unknown>[];
    expect(json).toHaveLength(2);
    expect(json[0]).toMatchObject({ uuid: diamondUuid, name: "diamond", workflow: "flow.yaml", status: "COMPLETED", total_jobs: 4, completed_jobs: 4, failed_jobs: 0, canceled_jobs: 0, running_jobs: 0 });
    expect(json[1]).toMatchObject({ uuid: failureUuid, name: "failure", status: "FAILED", total_jobs: 7, completed_jobs: 4, failed_jobs: 1, canceled_jobs: 2 });

    // status by an 8-character prefix, with the YAML
    const detail = as("status", diamondUuid.slice(0, 8), "--detail");
    expect(detail.code).toBe(0);
    expect(detail.stdout).toMatch(new RegExp(`ID:?\\s+${diamondUuid}`));
    expect(detail.stdout).toMatch(/Name:?\s+diamond\n/);
    expect(detail.stdout).toMatch(/Status:?\s+COMPLETED\n/);
    expect(detail.stdout).toContain("4/4 completed, 0 running, 0 failed, 0 canceled");
    for (const name of ["a", "b", "c", "d"]) expect(detail.stdout).toMatch(new RegExp(`\\n${name}\\s+[0-9a-f-]{36}\\s+COMPLETED\\s+0\\s`));
    expect(detail.stdout).toContain("b: COMPLETED, c: COMPLETED");
    expect(detail.stdout.endsWith(readFileSync(join(work, "diamond/flow.yaml"), "utf8"))).toBe(true);
    expect(as("status", diamondUuid).stdout).not.toContain("description: a diamond"); // the YAML only with --detail

    const sj = JSON.parse(as("status", diamondUuid.slice(0, 8), "--detail", "--json").stdout) as { workflow: Record<string, unknown>; jobs: Record<string, unknown>[] };
    expect(sj.workflow).toMatchObject({ uuid: diamondUuid, name: "diamond", status: "COMPLETED", total_jobs: 4, completed_jobs: 4, yaml_content: readFileSync(join(work, "diamond/flow.yaml"), "utf8") });
    expect(sj.jobs.map((j) => [j.job_name, j.status, j.dependencies])).toEqual([
      ["a", "COMPLETED", []],
      ["b", "COMPLETED", ["a: COMPLETED"]],
      ["c", "COMPLETED", ["a: COMPLETED"]],
      ["d", "COMPLETED", ["b: COMPLETED", "c: COMPLETED"]],
    ]);
    expect(sj.jobs.every((j) => typeof j.job_uuid === "string" && typeof j.start_time === "string" && j.exit_code === 0)).toBe(true);

    // prefixes that are too short or match nothing
    const short = as("status", diamondUuid.slice(0, 7));
    expect(short.code).toBe(1);
    expect(short.stderr).toContain("too short");
    const none = as("status", "ffffffff-nothing");
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("NOT_FOUND: workflow ffffffff-nothing not found");
  });
});

describe("RBAC", () => {
  test("a viewer may list and read workflows, not run, cancel or delete them", async () => {
    const viewer = workflowClient(d.address, d.pki.ca.cert, d.pki.clients.viewer);
    try {
      const list = await call(viewer.listWorkflows, viewer, { includeCompleted: true });
      expect(isError(list) ? list : list.workflows.length).toBe(2);
      const st = await call(viewer.getWorkflowStatus, viewer, { uuid: diamondUuid, includeYaml: true });
      expect(isError(st) ? st : st.workflow!.status).toBe("COMPLETED");
      const before = await jobUuids();
      expectError(await call(viewer.runWorkflow, viewer, runRequest({ yamlContent: yaml({ jobs: { a: sh("echo no") } }) })), "PERMISSION_DENIED");
      expectError(await call(viewer.cancelWorkflow, viewer, { uuid: diamondUuid }), "PERMISSION_DENIED");
      expectError(await call(viewer.deleteWorkflow, viewer, { uuid: diamondUuid }), "PERMISSION_DENIED");
      expect(await jobUuids()).toEqual(before);
      // the same through rnx
      expect(rnx(["--config", d.clients.viewer, "workflow", "list"]).stdout).toContain(diamondUuid);
      const run = rnx(["--config", d.clients.viewer, "workflow", "run", join(work, "diamond/flow.yaml")]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/permission|not allowed|denied/i);
      expect(await jobUuids()).toEqual(before);
    } finally {
      viewer.close();
    }
  });
});

/** Every directory the daemon keeps state in, under `root`, so a second daemon finds the first's (as persistence.test.ts). */
function durable(root: string, extra: Record<string, Record<string, unknown>> = {}): NonNullable<DaemonOptions["config"]> {
  return {
    ...extra,
    filesystem: { baseDir: join(root, "jobs"), tmpDir: join(root, "tmp"), ...extra.filesystem },
    persist: { storage: { local: { logs: { directory: join(root, "logs") }, metrics: { directory: join(root, "metrics") } } }, ...extra.persist },
    state: { local: { directory: join(root, "state") }, ...extra.state },
  };
}

/** The files under `dir` whose bytes contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (readFileSync(p).includes(Buffer.from(needle))) found.push(p);
    }
  };
  walk(dir);
  return found;
}

/**
 * Stops both daemons. When the test failed after the kill but before the second started, one is
 * started on the same state and port anyway: it removes the cgroups the killed daemon left behind.
 */
async function afterRestart(first: TestDaemon, second: TestDaemon | undefined, pki: TestPki, config: NonNullable<DaemonOptions["config"]>): Promise<void> {
  const killed = await Promise.race([first.exited.then(() => true), Bun.sleep(10).then(() => false)]);
  await first.stop(); // SIGTERM when still running: it cleans up after itself
  if (killed && !second) second = await startDaemon({ pki, config: { ...config, server: { port: first.port } } }).catch(() => undefined);
  await second?.stop();
}

describe("restart", () => {
  test("after SIGKILL mid-workflow: the running step is FAILED (DAEMON_RESTART), what requires it FINISHED runs, held steps keep their sealed secrets", async () => {
    const root = join(work, "restart");
    const pki = makePki();
    const config = durable(root, { joblet: { cleanupTimeout: "2s" } });
    const secret = `s3cret-${randomUUID()}`;
    const secretB = `other-${randomUUID()}`;
    const secretE = `early-${randomUUID()}`;
    put(
      "restart/flow.yaml",
      yaml({
        name: "restart",
        jobs: {
          a: { command: "sleep", args: ["300"] },
          b: { ...sh('echo "b after a: $TOKEN_B"'), secret_environment: { TOKEN_B: secretB }, requires: [req("a", "FINISHED")] },
          c: sh("sleep 1; echo c"),
          // c completed before the kill, a ends with the restart: d is held across the restart
          d: { ...sh('echo "d sees $TOKEN"'), environment: { PLAIN: "visible" }, secret_environment: { TOKEN: secret }, requires: [req("c", "COMPLETED"), req("a", "FINISHED")] },
          // released by c alone: it runs (with its secret) before the kill
          e: { ...sh('echo "e sees $TOKEN_E"'), secret_environment: { TOKEN_E: secretE }, requires: [req("c", "COMPLETED")] },
        },
      }),
    );
    const first = await startDaemon({ pki, config });
    let second: TestDaemon | undefined;
    let wf = workflowClient(first.address, pki.ca.cert, pki.clients.admin);
    let jc = jobClient(first.address, pki.ca.cert, pki.clients.admin);
    try {
      const uuid = rnxRun("restart/flow.yaml", work, first.clients.admin);
      const st = async () => {
        const s = await call(wf.getWorkflowStatus, wf, { uuid, includeYaml: false });
        if (isError(s)) throw new Error(s.details);
        return s;
      };
      await until("c and e completed while a runs", async () => {
        const s = statuses(await st());
        return s.c === "COMPLETED" && s.e === "COMPLETED" && s.a === "RUNNING";
      });
      expect(statuses(await st())).toEqual({ a: "RUNNING", b: "PENDING", c: "COMPLETED", d: "PENDING", e: "COMPLETED" });
      process.kill(first.pid, "SIGKILL");
      await first.exited;
      wf.close();
      jc.close();
      // what the killed daemon left: the waiting steps' secrets are sealed, never in clear
      expect(filesContaining(join(root, "state"), secret)).toEqual([]);
      expect(filesContaining(join(root, "state"), secretB)).toEqual([]);
      expect(filesContaining(join(root, "state"), secretE)).toEqual([]);

      second = await startDaemon({ pki, config: { ...config, server: { port: first.port } } });
      wf = workflowClient(second.address, pki.ca.cert, pki.clients.admin);
      jc = jobClient(second.address, pki.ca.cert, pki.clients.admin);
      const s = await wfEnded(uuid, wf);
      expect(statuses(s)).toEqual({ a: "FAILED", b: "COMPLETED", c: "COMPLETED", d: "COMPLETED", e: "COMPLETED" });
      expect(s.workflow).toMatchObject({ status: "FAILED", completedJobs: 4, failedJobs: 1, canceledJobs: 0 });
      const j = byName(s);
      expect(j.a!.failureReason).toBe("DAEMON_RESTART");
      expect(ms(j.b!.startTime)).toBeGreaterThanOrEqual(ms(j.a!.endTime));
      expect(ms(j.d!.startTime)).toBeGreaterThanOrEqual(ms(j.a!.endTime));
      expect(await logOf(j.c!.jobUuid, jc)).toBe("c\n");
      expect(await logOf(j.b!.jobUuid, jc)).toBe(`b after a: ${secretB}\n`);
      expect(await logOf(j.d!.jobUuid, jc)).toBe(`d sees ${secret}\n`);
      expect(await logOf(j.e!.jobUuid, jc)).toBe(`e sees ${secretE}\n`);
      // the workflow's YAML as the server keeps and shows it has no secret value either
      const y = await call(wf.getWorkflowStatus, wf, { uuid, includeYaml: true });
      if (isError(y)) throw new Error(y.details);
      expect(y.workflow!.yamlContent).toContain("secret_environment");
      expect(y.workflow!.yamlContent).toContain("PLAIN: visible");
      for (const v of [secret, secretB, secretE]) {
        expect(y.workflow!.yamlContent).not.toContain(v);
        expect(filesContaining(join(root, "state"), v)).toEqual([]);
      }
    } finally {
      wf.close();
      jc.close();
      await afterRestart(first, second, pki, config);
    }
  }, 60_000);

  test("after SIGTERM: the running step ends FAILED (DAEMON_SHUTDOWN) and nothing new starts while the daemon stops; the next start carries on", async () => {
    const root = join(work, "sigterm");
    const pki = makePki();
    const config = durable(root, { joblet: { cleanupTimeout: "2s" } });
    put(
      "sigterm/flow.yaml",
      yaml({
        name: "sigterm",
        jobs: {
          a: { command: "sleep", args: ["300"] },
          b: { ...sh("sleep 1; echo b ran after the restart"), requires: [req("a", "FINISHED")] },
          c: { ...sh("echo c"), requires: [req("a", "COMPLETED")] },
        },
      }),
    );
    const first = await startDaemon({ pki, config });
    let second: TestDaemon | undefined;
    let wf = workflowClient(first.address, pki.ca.cert, pki.clients.admin);
    let jc = jobClient(first.address, pki.ca.cert, pki.clients.admin);
    try {
      const uuid = rnxRun("sigterm/flow.yaml", work, first.clients.admin);
      await until("a running", async () => {
        const s = await call(wf.getWorkflowStatus, wf, { uuid, includeYaml: false });
        return !isError(s) && byName(s).a!.status === "RUNNING";
      });
      wf.close();
      jc.close();
      process.kill(first.pid, "SIGTERM");
      expect(await first.exited).toBe(0);
      // b was not launched while the daemon stopped (it would be killed with it and end FAILED, DAEMON_RESTART)
      expect(first.output()).not.toMatch(/job started[^\n]*command=sh/);

      second = await startDaemon({ pki, config: { ...config, server: { port: first.port } } });
      wf = workflowClient(second.address, pki.ca.cert, pki.clients.admin);
      jc = jobClient(second.address, pki.ca.cert, pki.clients.admin);
      const s = await wfEnded(uuid, wf);
      expect(statuses(s)).toEqual({ a: "FAILED", b: "COMPLETED", c: "CANCELED" });
      const j = byName(s);
      expect(j.a!.failureReason).toBe("DAEMON_SHUTDOWN");
      expect(j.c!.failureMessage).toContain("a ended FAILED, required COMPLETED");
      expect(await logOf(j.b!.jobUuid, jc)).toBe("b ran after the restart\n");
      expect(s.workflow!.status).toBe("FAILED");
    } finally {
      wf.close();
      jc.close();
      await afterRestart(first, second, pki, config);
    }
  }, 60_000);
});
