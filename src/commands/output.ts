// How rnx prints: JSON (with --json) or plain tables and key/value lines.
import { toJsonValue } from "../api/json";

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(toJsonValue(v), null, 2)}\n`);
}

/**
 * Text from a job (its command line, environment, messages) made harmless for a terminal:
 * control characters (C0 but newline and tab, DEL, C1) and bidirectional overrides are shown as
 * \u escapes instead of acting on the terminal of whoever lists the jobs.
 */
export function visible(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function printTable(headers: string[], rows: string[][]): void {
  rows = rows.map((r) => r.map(visible));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  process.stdout.write(`${[line(headers), ...rows.map(line)].join("\n")}\n`);
}

/** "Label: value" lines, labels aligned; empty values are skipped. */
export function printFields(pairs: [string, string | number | undefined][]): void {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== "");
  const w = Math.max(0, ...shown.map(([k]) => k.length));
  process.stdout.write(shown.map(([k, v]) => `${`${k}:`.padEnd(w + 1)} ${visible(String(v))}`).join("\n") + "\n");
}

export function formatBytes(n: number | bigint): string {
  let v = Number(n);
  for (const unit of ["B", "KiB", "MiB", "GiB", "TiB"]) {
    if (v < 1024 || unit === "TiB") return `${unit === "B" ? v : v.toFixed(1)} ${unit}`;
    v /= 1024;
  }
  return `${v}`;
}
