// The executable as a user meets it: names, help, exit statuses, completion, certificates, and
// a copy of the binary on its own in another directory.
import { afterAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { CLIENT_GROUPS } from "../../src/commands/tree";
import { EXPECTED_ABI_VERSION } from "../../src/ffi/libjoblet";
import { freePort } from "../helpers/daemon";
import { JOBLET, REPO } from "../helpers/paths";
import { joblet, rnx, runBinary } from "../helpers/run";

const version = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version as string;
const work = mkdtempSync(join(tmpdir(), "joblet-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("names, help and exit statuses", () => {
  test("--version under both names", () => {
    expect(joblet(["--version"]).stdout).toBe(`joblet ${version}\n`);
    expect(rnx(["--version"]).stdout).toBe(`rnx ${version}\n`);
    expect(rnx(["-v"]).code).toBe(0);
  });

  test("help lists every group; no arguments is a usage error", () => {
    const h = rnx(["--help"]);
    expect(h.code).toBe(0);
    for (const g of CLIENT_GROUPS) expect(h.stdout).toContain(`  ${g.name} `);
    expect(h.stdout).not.toContain("\n  serve "); // server commands only under the joblet name
    expect(joblet(["--help"]).stdout).toContain("\n  serve ");
    expect(rnx([]).code).toBe(2);
  });

  test("every group and command has help", () => {
    for (const g of CLIENT_GROUPS) {
      const gh = rnx([g.name, "--help"]);
      expect(gh.code).toBe(0);
      for (const c of g.commands) {
        expect(gh.stdout).toContain(c.name);
        const ch = rnx([g.name, c.name, "--help"]);
        expect({ cmd: `${g.name} ${c.name}`, code: ch.code }).toEqual({ cmd: `${g.name} ${c.name}`, code: 0 });
        expect(ch.stdout).toContain("--config");
      }
    }
  });

  test("usage errors exit 2 with one line; runtime errors exit 1", () => {
    const unknown = rnx(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('error: unknown command "frobnicate" (run "rnx --help")\n');
    expect(rnx(["job", "frobnicate"]).code).toBe(2);
    expect(rnx(["job", "status"]).code).toBe(2);
    expect(rnx(["job", "status", "a", "b"]).code).toBe(2);
    expect(rnx(["job", "list", "--bogus"]).code).toBe(2);
    expect(rnx(["job", "run", "-e", "1BAD=x", "true"]).stderr).toContain("--env: expected NAME=VALUE");
    expect(rnx(["volume", "create", "v"]).stderr).toContain("--size is required");
    const missing = rnx(["--config", join(work, "absent.yml"), "job", "list"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("absent.yml: client configuration not found");
  });

  test("global options may come before the group; job arguments pass through untouched", () => {
    const r = rnx(["--config", join(work, "absent.yml"), "--json", "job", "run", "python3", "-c", "print(1)", "--json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("client configuration not found"); // got as far as loading the config
  });

  test("rnx workflow run checks the YAML before connecting: every problem, by job and field", () => {
    const file = join(work, "bad-workflow.yaml");
    writeFileSync(file, ["jobs:", "  a:", '    command: "true"', "    requires:", "      - b: COMPLETED", "  b:", '    command: "true"', "    requires:", "      - a: COMPLETED", "  c:", '    command: "true"', "    requries:", "      - a: COMPLETED", "    environment:", "      1X: y", ""].join("\n"));
    const r = rnx(["--config", join(work, "absent.yml"), "workflow", "run", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        `error: ${file}:`,
        '  jobs.c.environment: variable name "1X" must match [A-Za-z_][A-Za-z0-9_]*',
        '  jobs.c.requries: unknown key "requries" (accepted: command, args, runtime, network, volumes, uploads, resources, environment, secret_environment, workdir, timeout, description, requires)',
        "  jobs: dependency cycle: a → b → a",
        "",
      ].join("\n"),
    );
  });
});

describe("shell completion", () => {
  const bash = rnx(["completion", "bash"]).stdout;
  const complete = (line: string) => {
    const script = `${bash}\nCOMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _rnx_complete; echo "\${COMPREPLY[*]}"`;
    return runBinary("/bin/bash", ["-c", script]).stdout.trim().split(/\s+/);
  };

  test("bash: groups, commands and options complete", () => {
    expect(complete("rnx ''")).toEqual(expect.arrayContaining(["job", "volume", "nodes", "completion"]));
    expect(complete("rnx jo")).toEqual(["job"]);
    expect(complete("rnx job ''")).toEqual(expect.arrayContaining(["run", "list", "status", "delete-all"]));
    expect(complete("rnx job run --max")).toEqual(["--max-cpu", "--max-memory", "--max-iobps", "--max-pids"]);
    expect(complete("rnx --node prod volume create --")).toContain("--size");
  });

  test("zsh: the script parses", () => {
    const zsh = rnx(["completion", "zsh"]);
    expect(zsh.code).toBe(0);
    const file = join(work, "_rnx");
    writeFileSync(file, zsh.stdout);
    expect(runBinary("/usr/bin/zsh", ["-n", file]).code).toBe(0);
    expect(zsh.stdout).toContain("compdef _rnx rnx");
  });

  test("an unknown shell is a usage error", () => {
    expect(rnx(["completion", "fish"]).code).toBe(2);
  });
});

describe("joblet certs", () => {
  const dir = join(work, "certs");

  test("init writes the CA, joblet-config.yml with embedded certificates and a nodeId, and an admin rnx-config.yml, all private", () => {
    const r = joblet(["certs", "init", "--out", dir, "--address", "10.20.30.40", "--names", "build.example.org,10.0.0.9", "--port", "50123"]);
    expect(r.code).toBe(0);
    for (const f of ["ca/ca-key.pem", "ca/ca-cert.pem", "joblet-config.yml", "rnx-config.yml"]) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const cfg = parse(readFileSync(join(dir, "joblet-config.yml"), "utf8"));
    expect(cfg.server.nodeId).toMatch(/^[0-9a-f-]{36}$/);
    expect(cfg.server.port).toBe(50123);
    const ca = new X509Certificate(cfg.security.caCert);
    const server = new X509Certificate(cfg.security.serverCert);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName).toBe("DNS:joblet, DNS:localhost, DNS:joblet-server, IP Address:127.0.0.1, IP Address:10.20.30.40, DNS:build.example.org, IP Address:10.0.0.9");
    const client = parse(readFileSync(join(dir, "rnx-config.yml"), "utf8"));
    expect(client.nodes.default.address).toBe("10.20.30.40:50123");
    expect(client.nodes.default.nodeId).toBe(cfg.server.nodeId);
    const admin = new X509Certificate(client.nodes.default.cert);
    expect(admin.subject).toContain("OU=admin");
    expect(admin.verify(ca.publicKey)).toBe(true);
    expect(joblet([`--config=${join(dir, "joblet-config.yml")}`, "--validate"]).code).toBe(0);
  });

  test("init refuses to replace an existing CA without --force", () => {
    const before = readFileSync(join(dir, "ca/ca-cert.pem"), "utf8");
    const r = joblet(["certs", "init", "--out", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--force");
    expect(readFileSync(join(dir, "ca/ca-cert.pem"), "utf8")).toBe(before);
  });

  test("issue writes a configuration per role, verified by the CA", () => {
    const ca = new X509Certificate(readFileSync(join(dir, "ca/ca-cert.pem")));
    for (const role of ["maintainer", "developer", "viewer"]) {
      const r = joblet(["certs", "issue", "--dir", dir, "--role", role, "--name", `${role}-1`, "--days", "30"]);
      expect(r.code).toBe(0);
      const path = join(dir, `rnx-config-${role}-1.yml`);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const node = parse(readFileSync(path, "utf8")).nodes.default;
      const cert = new X509Certificate(node.cert);
      expect(cert.subject).toContain(`OU=${role}`);
      expect(cert.subject).toContain(`CN=${role}-1`);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(node.address).toBe("10.20.30.40:50123");
      const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
      expect(Math.round(days)).toBe(30);
    }
    expect(joblet(["certs", "issue", "--dir", dir, "--role", "viewer", "--name", "viewer-1"]).code).toBe(1); // exists
    expect(joblet(["certs", "issue", "--dir", dir, "--role", "root", "--name", "x"]).code).toBe(2);
    expect(joblet(["certs", "issue", "--dir", join(work, "empty"), "--role", "viewer", "--name", "x"]).stderr).toContain("certs init");
  });

  test("init keeps an existing configuration's settings and comments", () => {
    const d2 = join(work, "merge");
    mkdirSync(d2);
    writeFileSync(join(d2, "joblet-config.yml"), "# my comment\nserver:\n  port: 50600\nlogging:\n  level: warn\n");
    expect(joblet(["certs", "init", "--out", d2]).code).toBe(0);
    const text = readFileSync(join(d2, "joblet-config.yml"), "utf8");
    expect(text).toContain("# my comment");
    const cfg = parse(text);
    expect(cfg.logging.level).toBe("warn");
    expect(cfg.server.port).toBe(50600);
    expect(cfg.security.serverKey).toContain("BEGIN PRIVATE KEY");
  });
});

describe("a copy of the binary alone in another directory", () => {
  test("serves over mTLS and answers as rnx, with the embedded libjoblet", async () => {
    const bin = join(work, "alone", "bin");
    mkdirSync(bin, { recursive: true });
    copyFileSync(JOBLET, join(bin, "joblet"));
    symlinkSync("joblet", join(bin, "rnx"));
    const tmp = join(work, "alone", "tmp");
    mkdirSync(tmp);
    const env = { TMPDIR: tmp };
    const port = await freePort();
    const conf = join(work, "alone", "config");
    expect(runBinary(join(bin, "joblet"), ["certs", "init", "--out", conf, "--port", String(port)], { env, cwd: "/" }).code).toBe(0);
    const cfgPath = join(conf, "joblet-config.yml");
    const alone = join(work, "alone");
    const cfg =
      readFileSync(cfgPath, "utf8").replace('address: "0.0.0.0"', 'address: "127.0.0.1"').replaceAll("/var/log/joblet", join(alone, "log")) +
      `filesystem:\n  baseDir: "${alone}/jobs"\n  tmpDir: "${alone}/tmp"\npersist:\n  storage:\n    local:\n      logs:\n        directory: "${alone}/logs"\n      metrics:\n        directory: "${alone}/metrics"\n`;
    writeFileSync(cfgPath, cfg);
    const daemon = Bun.spawn([join(bin, "joblet"), "serve", `--config=${cfgPath}`], { env, cwd: "/", stdout: "pipe", stderr: "pipe" });
    try {
      let status = { code: 1, stdout: "", stderr: "" };
      for (let i = 0; i < 100 && status.code !== 0; i++) {
        await Bun.sleep(50);
        status = runBinary(join(bin, "rnx"), ["--config", join(conf, "rnx-config.yml"), "monitor", "status"], { env, cwd: "/" });
      }
      expect(status.stdout).toContain(`Server:  joblet ${version}`);
      // a job through the copy: the embedded joblet-init runs as its PID 1
      const job = runBinary(join(bin, "rnx"), ["--config", join(conf, "rnx-config.yml"), "job", "run", "-f", "sh", "-c", "echo alone-ok; tr '\\0' ' ' < /proc/1/cmdline"], { env, cwd: "/" });
      expect(job.stdout).toBe("alone-ok\njoblet-init 1073741824 -- sh -c echo alone-ok; tr '\\0' ' ' < /proc/1/cmdline ");
    } finally {
      daemon.kill("SIGTERM");
      expect(await daemon.exited).toBe(0);
    }
    const log = readFileSync(join(work, "alone", "log", "joblet.log"), "utf8");
    expect(log).toContain(`libjobletAbi=${EXPECTED_ABI_VERSION}`);
    // The library came out of the executable itself: Bun extracts embedded files to $TMPDIR.
    expect(readdirSync(tmp).some((f) => f.endsWith(".so"))).toBe(true);
  });
});
