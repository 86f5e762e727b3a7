// joblet --config=FILE --validate: every problem with its key path, or OK.
import { ConfigError, loadServerConfig, type ServerConfig } from "../config/load";
import { checkCredentials } from "../config/credentials";

/** Problems with the embedded server certificates, phrased for a reader of the config file. */
export function credentialProblems(config: ServerConfig): string[] {
  const s = config.security;
  return checkCredentials(
    { cert: s.serverCert, key: s.serverKey, ca: s.caCert },
    { cert: "security.serverCert", key: "security.serverKey", ca: "security.caCert" },
  );
}

export async function validate(_args: string[], o: { config?: string }): Promise<number> {
  let loaded;
  try {
    loaded = loadServerConfig({ path: o.config });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const w of e.warnings) process.stdout.write(`warning: ${w}\n`);
    for (const p of e.problems) process.stdout.write(`${p}\n`);
    process.stdout.write(`invalid: ${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}\n`);
    return 1;
  }
  const lines = [`configuration: ${loaded.path}`, `runtime configuration: ${loaded.runtimePath ?? "none found (built-in defaults)"}`];
  for (const w of loaded.warnings) lines.push(`warning: ${w}`);
  const s = loaded.config.security;
  if (!s.serverCert && !s.serverKey && !s.caCert) {
    lines.push("warning: security: no certificates configured; run `joblet certs init` before `joblet serve`");
  } else {
    for (const p of credentialProblems(loaded.config)) lines.push(`warning: ${p} (\`joblet serve\` will refuse to start)`);
  }
  if (loaded.pending.length) {
    lines.push("not implemented yet (accepted, but no effect in this version):");
    for (const p of loaded.pending) lines.push(`  ${p.key}: ${p.feature}`);
  }
  lines.push("OK");
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}
