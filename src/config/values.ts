// Leaf value types of the configuration files. Each names the form it accepts, so a problem
// reads `joblet.maxConcurrentJobs: expected a positive integer, got "abc"`.
import { isIP } from "node:net";
import { z } from "zod";

/** How a bad value is shown in an error message. */
export function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null) return "null (an empty value)";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return String(v);
}

/**
 * Characters a name shown in a terminal must not have: C0 and C1 controls (ESC, and its 8-bit
 * form CSI U+009B, start terminal escape sequences), DEL, line and paragraph separators, and the
 * bidirectional overrides and isolates that make text display in another order than it reads.
 */
export const NOT_PRINTABLE = /[\0-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** A string quoted in a message: JSON, cut after `max` characters (a message never echoes a megabyte back). */
export function quote(v: string, max = 120): string {
  return v.length <= max ? JSON.stringify(v) : `${JSON.stringify(v.slice(0, max))}… (${Buffer.byteLength(v)} bytes)`;
}

/** A schema leaf: `parse` returns the value, or undefined when the input is not of `form`. */
export function leaf<T>(form: string, parse: (v: unknown) => T | undefined) {
  return z.unknown().transform((v, ctx): T => {
    const out = parse(v);
    if (out === undefined) {
      ctx.addIssue({ code: "custom", message: `expected ${form}, got ${show(v)}`, input: v });
      return z.NEVER;
    }
    return out;
  });
}

/** A file's `version:` ("3.0"; a YAML number such as 3 is read as "3.0"). */
export const fileVersion = () =>
  leaf('a version string such as "3.0"', (v) =>
    typeof v === "string" && v.trim() ? v : typeof v === "number" ? (Number.isInteger(v) ? v.toFixed(1) : String(v)) : undefined,
  );

export const bool = () => leaf("true or false", (v) => (typeof v === "boolean" ? v : undefined));

export const str = (form = "a string") => leaf(form, (v) => (typeof v === "string" ? v : undefined));

export const nonEmptyStr = (form = "a non-empty string") =>
  leaf(form, (v) => (typeof v === "string" && v.trim() !== "" ? v : undefined));

function integer(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isSafeInteger(v)) return v;
  return undefined;
}

export const int = (min: number, max: number, form: string) =>
  leaf(form, (v) => {
    const n = integer(v);
    return n !== undefined && n >= min && n <= max ? n : undefined;
  });

export const positiveInt = () => int(1, Number.MAX_SAFE_INTEGER, "a positive integer");
export const nonNegativeInt = () => int(0, Number.MAX_SAFE_INTEGER, "a non-negative integer (0 = unlimited)");
export const port = () => int(1, 65535, "a port number 1-65535");

export const oneOf = <const T extends readonly string[]>(values: T) =>
  leaf(`one of ${values.map((v) => `"${v}"`).join(", ")}`, (v) =>
    typeof v === "string" && (values as readonly string[]).includes(v) ? (v as T[number]) : undefined,
  );

export const absolutePath = () =>
  leaf("an absolute path", (v) => (typeof v === "string" && v.startsWith("/") && !v.includes("\0") ? v : undefined));

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style duration ("500ms", "30s", "1h30m", "0") to milliseconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v !== "string") return undefined;
  const s = v.trim();
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  return matched === s.length && s.length > 0 ? Math.round(total) : undefined;
}

export const duration = (form = 'a duration such as "500ms", "30s", "5m" or "1h30m"') => leaf(form, parseDuration);

const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** Size string ("512MB", "1.5GB", "100") to bytes; units are powers of 1024, as in Joblet. */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|K|M|G|T)?\s*$/i.exec(v);
  if (!m) return undefined;
  let unit = (m[2] ?? "B").toUpperCase();
  if (unit.length === 1 && unit !== "B") unit += "B";
  return Math.round(Number(m[1]) * SIZE_UNITS[unit]!);
}

export const size = () => leaf('a size such as "512MB", "1GB" or a byte count', parseSize);

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isIPv4 = (s: string) => isIP(s) === 4;
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
/** An IP address, or a host name that cannot be mistaken for a malformed IPv4 address (RFC 1123 2.1). */
export const isHost = (s: string) => isIP(s) !== 0 || (!/^[\d.]+$/.test(s) && HOSTNAME.test(s));

export const host = () => leaf("an IP address or host name", (v) => (typeof v === "string" && isHost(v) ? v : undefined));

/** "host:port" (IPv6 as "[::1]:port"). */
export function parseHostPort(v: unknown): { host: string; port: number } | undefined {
  if (typeof v !== "string") return undefined;
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:\s]+)):(\d{1,5})$/i.exec(v.trim());
  if (!m) return undefined;
  const h = m[1] ?? m[2]!;
  const p = Number(m[3]);
  return isHost(h) && p >= 1 && p <= 65535 ? { host: h, port: p } : undefined;
}

export const hostPort = () => leaf('"host:port", e.g. "127.0.0.1:9090"', (v) => (parseHostPort(v) ? (v as string) : undefined));

export const cidr = () =>
  leaf('an IPv4 CIDR such as "172.20.0.0/16"', (v) => {
    if (typeof v !== "string") return undefined;
    const [ip, bits, extra] = v.split("/");
    return extra === undefined && ip && isIPv4(ip) && /^\d{1,2}$/.test(bits ?? "") && Number(bits) <= 32 ? v : undefined;
  });

/** PEM text; its content is checked separately (see validate.ts) so placeholders only warn. */
export const pem = (label: string) => leaf(`a PEM ${label} block`, (v) => (typeof v === "string" ? v : undefined));

/** Message for a wrong container type; other issues keep zod's own message. */
const typeError = (form: string) => (iss: { code?: string; input?: unknown }) =>
  iss.code === "invalid_type" ? `expected ${form}, got ${show(iss.input)}` : undefined;

export const list = <T extends z.ZodType>(item: T) => z.array(item, { error: typeError("a list") });

/** A mapping of settings; unknown keys are reported (as warnings, see validate.ts). */
export const section = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject(shape, { error: typeError("a mapping of settings") });

export const mapOf = <T extends z.ZodType>(value: T) => z.record(z.string(), value, { error: typeError("a mapping") });
