// API messages as JSON, the way `rnx --json` prints them and the HTTPS endpoint serves them.

/** JSON-safe copy: bigint as number (or string past 2^53), bytes as base64. */
export function toJsonValue(v: unknown): unknown {
  if (typeof v === "bigint") return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonValue(x)]));
  return v;
}

/** camelCase keys to snake_case (top level), as Joblet's --json output has them. */
export function snakeKeys(v: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), x]));
}
