// Fuzzing material: a seeded PRNG (a failure reproduces from its seed), a protobuf wire writer
// driven by proto/joblet.proto (so every request message of every service can be built, valid or
// not), adversarial field values, request generators with wire-level mutations, YAML generators
// (server configurations and workflow files, bombs included), and the checks an answer must pass.
import { status as Status } from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYamlText, stringify } from "yaml";
import { REPO } from "./paths";

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** sfc32: small, fast, and good enough to spread inputs; the same seed gives the same sequence. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** [0, 1) */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** an integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** an integer in [lo, hi] */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** one of `entries`, each as likely as its weight */
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((n, [, w]) => n + w, 0);
    let x = this.float() * total;
    for (const [v, w] of entries) {
      if ((x -= w) < 0) return v;
    }
    return entries[entries.length - 1]![0];
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (v >>> (8 * k)) & 0xff;
    }
    return out;
  }

  /** a small length, now and then a large one: most inputs stay cheap, a few probe the limits */
  length(max = 64): number {
    return this.chance(0.9) ? this.int(Math.min(max, 16) + 1) : this.int(max + 1);
  }
}

/** One 32-bit seed from a seed and an index (each request has its own generator, so request #i reproduces alone). */
export function mix(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i + 0x6d2b79f5, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** `--name=value` from argv, else the environment variable, else the fallback. */
export function option(name: string, fallback: string, env?: string): string {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (arg) return arg.slice(name.length + 3);
  if (env && process.env[env]) return process.env[env]!;
  return fallback;
}

/** The seed of a run: --seed=N, FUZZ_SEED, or a fresh one (printed by the caller). */
export function seedOption(): number {
  const s = option("seed", "", "FUZZ_SEED");
  if (s === "") return (Date.now() ^ (process.pid << 16)) >>> 0;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`--seed: ${s} is not an integer 0-4294967295`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// The wire contract, read from proto/joblet.proto

export interface ProtoField {
  name: string;
  number: number;
  type: string;
  repeated: boolean;
  map?: { key: string; value: string };
}

export interface ProtoMethod {
  service: string;
  name: string;
  /** "/joblet.JobService/RunJob" */
  path: string;
  request: string;
  response: string;
  responseStream: boolean;
}

export interface ProtoSchema {
  messages: Map<string, ProtoField[]>;
  methods: ProtoMethod[];
}

let cachedSchema: ProtoSchema | undefined;

/** Every message's fields and every service's methods (what the fuzzer needs of a .proto). */
export function protoSchema(text = readFileSync(join(REPO, "proto", "joblet.proto"), "utf8")): ProtoSchema {
  if (cachedSchema && arguments.length === 0) return cachedSchema;
  const src = text.replace(/\/\/[^\n]*/g, "");
  const messages = new Map<string, ProtoField[]>();
  for (const m of src.matchAll(/message\s+(\w+)\s*\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}/g)) {
    const fields: ProtoField[] = [];
    for (const f of m[2]!.matchAll(/(repeated\s+)?(map\s*<\s*(\w+)\s*,\s*(\w+)\s*>|\w+)\s+(\w+)\s*=\s*(\d+)\s*;/g)) {
      const map = f[3] ? { key: f[3], value: f[4]! } : undefined;
      fields.push({ name: f[5]!, number: Number(f[6]), type: map ? "map" : f[2]!, repeated: Boolean(f[1]) || Boolean(map), map });
    }
    messages.set(m[1]!, fields);
  }
  const methods: ProtoMethod[] = [];
  for (const s of src.matchAll(/service\s+(\w+)\s*\{([^}]*)\}/g)) {
    for (const r of s[2]!.matchAll(/rpc\s+(\w+)\s*\(\s*(\w+)\s*\)\s*returns\s*\(\s*(stream\s+)?(\w+)\s*\)/g)) {
      methods.push({ service: s[1]!, name: r[1]!, path: `/joblet.${s[1]}/${r[1]}`, request: r[2]!, response: r[4]!, responseStream: Boolean(r[3]) });
    }
  }
  const schema = { messages, methods };
  if (arguments.length === 0) cachedSchema = schema;
  return schema;
}

// ---------------------------------------------------------------------------------------------
// Protobuf wire writing, including what a correct encoder never writes

export const WT = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

/** Base-128 varint of an unsigned 64-bit value (negative numbers as their 64-bit two's complement, as protobuf does for int32/int64). */
export function varint(n: bigint | number): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

export const tag = (field: number, wireType: number) => varint((BigInt(field) << 3n) | BigInt(wireType));

/** One encoded field, kept apart so mutations can work on fields rather than bytes. */
export interface WireField {
  field: number;
  wireType: number;
  /** the encoded value after the tag (for LEN: the length prefix and the bytes) */
  body: Buffer;
}

export const lenField = (field: number, bytes: Uint8Array): WireField => ({ field, wireType: WT.LEN, body: Buffer.concat([varint(bytes.length), bytes]) });
export const varintField = (field: number, v: bigint | number | boolean): WireField => ({ field, wireType: WT.VARINT, body: varint(typeof v === "boolean" ? (v ? 1 : 0) : v) });
export const joinFields = (fields: readonly WireField[]) => Buffer.concat(fields.flatMap((f) => [tag(f.field, f.wireType), f.body]));

/** A JS value for encodeMessage: strings (UTF-8) or raw bytes for string/bytes fields, numbers or
 * bigints for integers, booleans, nested objects for messages, arrays for repeated fields and
 * [key, value] pairs for maps (so a key can appear twice). */
export type WireValue = string | Uint8Array | number | bigint | boolean | WireObject | WireValue[] | [WireValue, WireValue][];
export interface WireObject {
  [field: string]: WireValue | undefined;
}

const SCALAR_VARINT = new Set(["int32", "int64", "uint32", "uint64", "bool", "enum"]);

function encodeScalar(type: string, number: number, v: WireValue, schema: ProtoSchema): WireField {
  if (type === "string" || type === "bytes") return lenField(number, typeof v === "string" ? Buffer.from(v, "utf8") : (v as Uint8Array));
  if (SCALAR_VARINT.has(type)) return varintField(number, v as bigint | number | boolean);
  if (type === "double") {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(Number(v));
    return { field: number, wireType: WT.I64, body: b };
  }
  if (schema.messages.has(type)) return lenField(number, encodeMessage(schema, type, v as WireObject));
  throw new Error(`fuzz: no encoder for ${type}`);
}

/** The fields of `obj` (named as in the .proto) encoded in field order; unknown names are an error. */
export function encodeFields(schema: ProtoSchema, type: string, obj: WireObject): WireField[] {
  const fields = schema.messages.get(type);
  if (!fields) throw new Error(`fuzz: unknown message ${type}`);
  const out: WireField[] = [];
  for (const [name, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const f = fields.find((x) => x.name === name);
    if (!f) throw new Error(`fuzz: ${type} has no field ${name}`);
    if (f.map) {
      for (const [k, val] of v as [WireValue, WireValue][]) {
        const entry = joinFields([encodeScalar(f.map.key, 1, k, schema), encodeScalar(f.map.value, 2, val, schema)]);
        out.push(lenField(f.number, entry));
      }
    } else if (f.repeated) {
      for (const item of v as WireValue[]) out.push(encodeScalar(f.type, f.number, item, schema));
    } else out.push(encodeScalar(f.type, f.number, v, schema));
  }
  return out;
}

export function encodeMessage(schema: ProtoSchema, type: string, obj: WireObject): Buffer {
  return joinFields(encodeFields(schema, type, obj));
}

// ---------------------------------------------------------------------------------------------
// Adversarial values

export const INT32_MIN = -(2 ** 31);
export const INT32_MAX = 2 ** 31 - 1;

/** Numbers an int32/int64 field is sent: edges, overflow (a varint wider than 32 bits), -1. */
export const EDGE_INTS: readonly bigint[] = [0n, 1n, -1n, 2n, 100n, 4096n, BigInt(INT32_MAX), BigInt(INT32_MIN), 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n];

export function advInt(rng: Rng): bigint {
  if (rng.chance(0.6)) return rng.pick(EDGE_INTS);
  if (rng.chance(0.5)) return BigInt(rng.between(-1000, 100_000));
  return BigInt.asIntN(64, (BigInt(rng.u32()) << 32n) | BigInt(rng.u32()));
}

/** UTF-8 a correct encoder never produces: lone surrogates (CESU-8), overlong forms, stray continuation bytes, a cut sequence. */
export const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0xed, 0xa0, 0x80]), // U+D800
  Buffer.from([0x61, 0xed, 0xb0, 0x80, 0x62]), // a U+DC00 b
  Buffer.from([0xc0, 0xaf]), // overlong "/"
  Buffer.from([0x2e, 0x2e, 0xc0, 0xaf]), // "..", overlong "/"
  Buffer.from([0xff, 0xfe, 0xfd]),
  Buffer.from([0x80]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // beyond U+10FFFF
];

export const DEEP_PATH = `${"a/".repeat(999)}a`; // 1000 levels, 1999 bytes
export const LONG_PATH = "a/".repeat(2100); // 4200 bytes
export const MB = 1024 * 1024;

/** A string of `bytes` bytes, built once per size (huge values are reused, not regenerated). */
const hugeCache = new Map<number, string>();
export function huge(bytes = MB + 1, fill = "x"): string {
  const key = bytes * 256 + fill.charCodeAt(0);
  let s = hugeCache.get(key);
  if (s === undefined) hugeCache.set(key, (s = fill.repeat(bytes)));
  return s;
}

/** Text that has broken parsers, path checks, terminals and logs. */
export const NASTY_STRINGS: readonly string[] = [
  "",
  " ",
  "\t\n\r",
  "\0",
  "a\0b",
  "job\0name",
  "/bin/true\0--evil",
  "\u202Eexe.txt", // right-to-left override
  "\u200F\u200E\u200B\uFEFF", // marks, zero width, BOM
  "مرحبا بالعالم",
  "שלום",
  `e${"\u0301".repeat(500)}`, // combining marks
  "Z\u0351\u0358\u0360\u035C\u0361a\u0362\u0489l\u0337g\u0336o\u0335",
  "👨‍👩‍👧‍👦🏳️‍🌈🇺🇳",
  "🔥".repeat(300),
  "\uD800", // lone surrogates (UTF-8 encoding turns them into U+FFFD)
  "a\uDC00b",
  "\uDBFF\uDFFF",
  "\u0000\u0001\u0002\u001b[31mred\u001b[0m\u0007",
  "\u001b]0;title\u0007",
  "..",
  ".",
  "./",
  "../../../../etc/passwd",
  "a/../../b",
  "....//....//etc",
  "..\\..\\windows",
  "/etc/shadow",
  "//",
  "/proc/self/mem",
  "/dev/sda",
  "/work/../proc/1/root",
  "~root",
  "%2e%2e%2f",
  DEEP_PATH,
  LONG_PATH,
  "n".repeat(256),
  "%s%s%s%n%x",
  "${PATH}$(reboot)`id`",
  "; rm -rf / #",
  "' OR '1'='1'; DROP TABLE jobs; --",
  "__proto__",
  "constructor",
  "prototype",
  "hasOwnProperty",
  "toString",
  "-1",
  "2147483648",
  "-2147483649",
  "1e309",
  "NaN",
  "Infinity",
  "0x10",
  "null",
  "undefined",
  "true",
  "*",
  "%",
  "?",
];

export const DURATIONS = ["", "0", "1ns", "30s", "-1s", "0s", "1e308h", "9999999999999999999h", "1h-1m", "5m30s", "1.5.5s", "10", "µs", "2h", "25h", "100000h"];
export const CRONS = ["", "* * * * *", "@hourly", "@daily", "@yearly", "@reboot", "@every 1s", "61 * * * *", "*/0 * * * *", "0-59/0 * * * *", "1-1000000 * * * *", "* * * * * *", "0 0 30 2 *", "0 0 31 4 *", "a b c d e", "*/4294967296 * * * *", "-1 * * * *", "59-0 * * * *"];
export const TIMES = ["", "2030-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "+275760-09-13T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T25:61:61Z", "1970-01-01T00:00:00+99:99", "yesterday", "5min", "2026-11-28 15:04"];
export const CPU_LISTS = ["", "0", "0-1", "1,0", "0-3", "1-0", "0,0,0", "-1", "4294967296", "0-4096", "0-4097", "0-1000000000", "0-4096,".repeat(20), "a-b", "0--1", ",", "0,"];

/** A string value for any string field. Mostly short, sometimes nasty, now and then 1 MB+. */
export function advString(rng: Rng, hugeChance = 0.002): string | Buffer {
  const r = rng.float();
  if (r < hugeChance) return huge(rng.pick([MB + 1, 2 * MB, 4097, 65_537, 131_073]), rng.pick(["x", "/", "é"]));
  if (r < 0.45) return rng.pick(NASTY_STRINGS);
  if (r < 0.55) return rng.pick(INVALID_UTF8);
  if (r < 0.7) return rng.bytes(rng.length(40));
  if (r < 0.8) return rng.pick([...DURATIONS, ...CRONS, ...TIMES, ...CPU_LISTS]);
  return Array.from({ length: rng.length(20) }, () => String.fromCharCode(rng.chance(0.8) ? rng.between(0x20, 0x7e) : rng.between(0, 0xffff))).join("");
}

// ---------------------------------------------------------------------------------------------
// Uploads and environments

export type Upload = { path: string | Buffer; content?: Uint8Array; mode?: number | bigint; is_directory?: boolean };

/** `n` small files spread over a few directories, each distinct (a valid request, if large). */
export function manyUploads(n: number, prefix = "f"): Upload[] {
  return Array.from({ length: n }, (_, i) => ({ path: `${prefix}/d${i % 100}/file-${i}.txt`, content: Buffer.from(`${i}\n`), mode: 0o644 }));
}

/** Upload sets a path check must refuse, each with what it tries. */
export const BAD_UPLOADS: readonly { what: string; uploads: Upload[] }[] = [
  { what: "a file and a directory of the same path", uploads: [{ path: "x", content: Buffer.from("1") }, { path: "x", is_directory: true }] },
  { what: "a file inside a file", uploads: [{ path: "x", content: Buffer.from("1") }, { path: "x/y", content: Buffer.from("2") }] },
  { what: "a file inside a file, inner one first", uploads: [{ path: "x/y/z", content: Buffer.from("2") }, { path: "x/y", content: Buffer.from("1") }] },
  { what: "one path twice after normalization", uploads: [{ path: "a/b", content: Buffer.from("1") }, { path: "a//./b", content: Buffer.from("2") }] },
  { what: "a directory with content", uploads: [{ path: "d", is_directory: true, content: Buffer.from("data") }] },
  { what: "an absolute path", uploads: [{ path: "/etc/cron.d/evil", content: Buffer.from("* * * * * root id") }] },
  { what: "dot-dot", uploads: [{ path: "../escape", content: Buffer.from("1") }] },
  { what: "dot-dot inside", uploads: [{ path: "a/../../escape", content: Buffer.from("1") }] },
  { what: "the workspace itself", uploads: [{ path: "./", is_directory: true }] },
  { what: "a NUL in a path", uploads: [{ path: "a\0/../../etc/passwd", content: Buffer.from("1") }] },
  { what: "1000 levels deep", uploads: [{ path: DEEP_PATH, content: Buffer.from("1") }] },
  { what: "4200 bytes long", uploads: [{ path: LONG_PATH, content: Buffer.from("1") }] },
  { what: "a 256-byte name", uploads: [{ path: "n".repeat(256), content: Buffer.from("1") }] },
  { what: "a symlink mode (Go)", uploads: [{ path: "link", content: Buffer.from("/etc/passwd"), mode: 0x8000000 | 0o777 }] },
  { what: "a device mode (Go)", uploads: [{ path: "dev", mode: 0x4000000 | 0x200000 | 0o666 }] },
  { what: "a fifo mode (unix)", uploads: [{ path: "fifo", mode: 0o010644 }] },
  { what: "a char device mode (unix)", uploads: [{ path: "tty", mode: 0o020666 }] },
  { what: "a directory mode on a file", uploads: [{ path: "notdir", mode: 0x80000000 | 0o755 }] },
  { what: "a file mode on a directory", uploads: [{ path: "dir", is_directory: true, mode: 0o100644 }] },
  { what: "an empty path", uploads: [{ path: "", content: Buffer.from("1") }] },
  { what: "a path of invalid UTF-8", uploads: [{ path: Buffer.from([0x2e, 0x2e, 0xc0, 0xaf, 0x78]), content: Buffer.from("1") }] },
];

/** Uploads that are odd but allowed: setuid bits (dropped), mode 0, huge modes, unicode names. */
export const ODD_UPLOADS: readonly { what: string; uploads: Upload[] }[] = [
  { what: "setuid and sticky bits", uploads: [{ path: "suid", content: Buffer.from("#!/bin/sh\n"), mode: 0o7777 }] },
  { what: "mode 0", uploads: [{ path: "zero", content: Buffer.from("1"), mode: 0 }] },
  { what: "mode -1 (all bits)", uploads: [{ path: "all-bits", content: Buffer.from("1"), mode: -1n }] },
  { what: "a directory then files in it", uploads: [{ path: "d", is_directory: true, mode: 0o700 }, { path: "d/e/f", content: Buffer.from("1") }] },
  { what: "unicode names", uploads: [{ path: "\u202Egnp.exe", content: Buffer.from("1") }, { path: "👨‍👩‍👧‍👦/é\u0301", content: Buffer.from("2") }] },
  { what: "64 levels (the limit)", uploads: [{ path: `${"d/".repeat(63)}f`, content: Buffer.from("1") }] },
  { what: "an empty file", uploads: [{ path: "empty" }] },
];

export type EnvPairs = [string | Buffer, string | Buffer][];

/** `n` environment entries: mostly good names, with some bad ones when `bad`. */
export function manyEnv(rng: Rng, n: number, bad: boolean): EnvPairs {
  const out: EnvPairs = [];
  for (let i = 0; i < n; i++) out.push([bad && rng.chance(0.01) ? rng.pick(BAD_ENV_NAMES) : `V_${i}`, `value-${i}`]);
  return out;
}

export const BAD_ENV_NAMES: readonly string[] = ["", "1ABC", "A-B", "A B", "A=B", "A\0B", "ÄBC", "PATH\n", "__proto__x=", "💥", "=", " "];
/** Names the daemon must take as given (or refuse by name), never act on. */
export const ODD_ENV_NAMES: readonly string[] = ["__proto__", "constructor", "hasOwnProperty", "LD_PRELOAD", "PATH", "HOME", "JOBLET_JOB_ID", "_", "A".repeat(10_000)];

// ---------------------------------------------------------------------------------------------
// YAML: bombs, depth, and generators for configurations and workflow files

/** "Billion laughs": `levels` anchors, each a list of `width` aliases of the one before. */
export function billionLaughs(levels = 9, width = 9): string {
  const lines = ['a0: &a0 "lol"'];
  for (let i = 1; i <= levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: width }, () => `*a${i - 1}`).join(", ")}]`);
  return `${lines.join("\n")}\n`;
}

/** Nested collections `depth` deep, in flow or block style. */
export function deepYaml(depth: number, style: "flow-seq" | "flow-map" | "block-map" | "block-seq"): string {
  if (style === "flow-seq") return `${"[".repeat(depth)}${"]".repeat(depth)}\n`;
  if (style === "flow-map") return `${"{a: ".repeat(depth)}1${"}".repeat(depth)}\n`;
  if (style === "block-seq") return Array.from({ length: depth }, (_, i) => `${" ".repeat(i * 2)}-`).join("\n") + " x\n";
  return Array.from({ length: depth }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n") + " 1\n";
}

/** YAML text that is broken or hostile regardless of schema. */
export function hostileYaml(rng: Rng): { what: string; text: string } {
  return rng.pick<() => { what: string; text: string }>([
    () => ({ what: "billion laughs", text: billionLaughs(rng.between(6, 10), rng.between(6, 10)) }),
    () => ({ what: "quadratic aliases", text: `a: &a ${"x".repeat(1000)}\nb: [${Array.from({ length: 150 }, () => "*a").join(", ")}]\n` }),
    () => ({ what: "deep flow sequence", text: deepYaml(rng.pick([100, 1000, 10_000, 100_000]), "flow-seq") }),
    () => ({ what: "deep flow mapping", text: deepYaml(rng.pick([100, 1000, 10_000]), "flow-map") }),
    () => ({ what: "deep block mapping", text: deepYaml(rng.pick([100, 1000, 3000]), "block-map") }),
    () => ({ what: "deep block sequence", text: deepYaml(rng.pick([100, 1000, 3000]), "block-seq") }),
    () => ({ what: "random bytes", text: rng.bytes(rng.between(1, 2000)).toString("latin1") }),
    () => ({ what: "NUL bytes", text: "version: \"3.0\"\0\nserver:\n  port: 5\0\n" }),
    () => ({ what: "tabs for indentation", text: "server:\n\tport: 1\n" }),
    () => ({ what: "a duplicate key", text: "jobs:\n  a:\n    command: x\n  a:\n    command: y\n" }),
    () => ({ what: "an undefined alias", text: "server: *nope\n" }),
    () => ({ what: "a recursive alias", text: "a: &a [*a]\n" }),
    () => ({ what: "a merge of a scalar", text: "base: &b 5\nserver:\n  <<: *b\n" }),
    () => ({ what: "unknown tags", text: "server: !!js/function 'function(){}'\njoblet: !<tag:evil> x\nlogging: !!binary AAAA\n" }),
    () => ({ what: "a document stream", text: "a: 1\n---\nb: 2\n...\n---\nc: 3\n" }),
    () => ({ what: "a huge scalar", text: `name: ${huge(MB + 1)}\n` }),
    () => ({ what: "a huge key", text: `${huge(70_000)}: 1\n` }),
    () => ({ what: "complex keys", text: "? [a, b]\n: 1\n? {x: y}\n: 2\n" }),
    () => ({ what: "a BOM and CRLF", text: "\uFEFFversion: \"3.0\"\r\nserver:\r\n  port: 1\r\n" }),
    () => ({ what: "unterminated quote", text: 'name: "never closed\n' }),
    () => ({ what: "a lone surrogate escape", text: 'name: "\\uD800"\n' }),
    () => ({ what: "only a comment", text: "# nothing\n" }),
    () => ({ what: "empty", text: "" }),
    () => ({ what: "a scalar document", text: "42\n" }),
    () => ({ what: "a list document", text: "- a\n- b\n" }),
  ])();
}

function flipBit(b: Buffer, rng: Rng): void {
  const at = rng.int(b.length);
  b[at] = b[at]! ^ (1 << rng.int(8));
}

/** Replaces the value at a random key path of a plain object tree with `value` (or adds a key). */
function mutateTree(rng: Rng, tree: unknown, value: () => unknown): { tree: unknown; path: string } {
  if (!tree || typeof tree !== "object") return { tree: value(), path: "(top level)" };
  const copy = structuredClone(tree) as Record<string, unknown>;
  let node: Record<string, unknown> = copy;
  const path: string[] = [];
  for (;;) {
    const keys = Object.keys(node);
    if (keys.length === 0 || rng.chance(0.15)) {
      const k = rng.chance(0.5) ? rng.pick(["unknown_key", "Port", "__proto__", "constructor", "", "a.b", "jobs", "server"]) : String(advString(rng));
      Object.defineProperty(node, k, { value: value(), enumerable: true, writable: true, configurable: true });
      path.push(k);
      break;
    }
    const k = rng.pick(keys);
    path.push(k);
    const next = node[k];
    if (next && typeof next === "object" && rng.chance(0.7)) {
      node = next as Record<string, unknown>;
      continue;
    }
    node[k] = value();
    break;
  }
  return { tree: copy, path: path.map((k) => (k.length > 40 ? `${JSON.stringify(k.slice(0, 40))}…` : k)).join(".") };
}

/** A value of the wrong kind, or the right kind at a wrong size. */
export function advYamlValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => null,
    () => rng.pick([true, false]),
    () => Number(rng.pick(EDGE_INTS)),
    () => rng.pick([-1, 0, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 0.1, 65_536, 2 ** 31, -(2 ** 31)]),
    () => Number.NaN,
    () => Number.POSITIVE_INFINITY,
    () => String(advString(rng, 0.01)),
    () => rng.pick(NASTY_STRINGS),
    () => rng.pick([...DURATIONS, ...CRONS, ...CPU_LISTS]),
    () => [],
    () => [1, "two", null, { three: 3 }],
    () => ({}),
    () => ({ nested: { deeper: { deepest: [] } } }),
    () => Array.from({ length: rng.pick([10, 1000, 10_000]) }, (_, i) => `item${i}`),
    () => Object.fromEntries(Array.from({ length: rng.pick([10, 1000]) }, (_, i) => [`k${i}`, i])),
  ])();
}

const YAML_OPTS = { lineWidth: 0 } as const;

/** A server configuration for `--validate`: a good one mutated at a key path, or hostile text. */
export function configYaml(rng: Rng, bases: readonly unknown[]): { what: string; text: string } {
  const base = rng.pick(bases);
  const r = rng.float();
  if (r < 0.15) return hostileYaml(rng);
  if (r < 0.25) {
    const text = stringify(base, YAML_OPTS);
    const cut = rng.int(text.length);
    return { what: `truncated at ${cut}`, text: text.slice(0, cut) };
  }
  if (r < 0.35) {
    const text = Buffer.from(stringify(base, YAML_OPTS));
    for (let i = rng.between(1, 8); i > 0; i--) flipBit(text, rng);
    return { what: "bit flips", text: text.toString("latin1") };
  }
  let tree = base;
  const paths: string[] = [];
  for (let i = rng.between(1, 3); i > 0; i--) {
    const m = mutateTree(rng, tree, () => advYamlValue(rng));
    tree = m.tree;
    paths.push(m.path);
  }
  return { what: `values at ${paths.join(", ")}`, text: stringify(tree, YAML_OPTS) };
}

const JOB_NAMES = ["extract", "transform", "load", "a", "b-1", "c.2", "Z_9"];

/** A plausible workflow as a plain object (mostly valid: jobs that run `true` or `echo`). */
export function plausibleWorkflow(rng: Rng, maxJobs = 4): Record<string, unknown> {
  const n = rng.between(1, maxJobs);
  const names = JOB_NAMES.slice(0, n);
  const jobs: Record<string, unknown> = {};
  names.forEach((name, i) => {
    const job: Record<string, unknown> = { command: rng.pick(["true", "echo", "/bin/true"]) };
    if (rng.chance(0.5)) job.args = ["hello", name];
    if (i > 0 && rng.chance(0.6)) job.requires = [{ [names[rng.int(i)]!]: rng.pick(["COMPLETED", "FINISHED", "failed"]) }];
    if (rng.chance(0.3)) job.environment = { MODE: "fast", N: 1 };
    if (rng.chance(0.2)) job.resources = { max_memory: 64, max_pids: 32 };
    if (rng.chance(0.2)) job.timeout = "30s";
    jobs[name] = job;
  });
  return { name: rng.chance(0.5) ? "fuzz" : undefined, jobs };
}

/** A workflow file: a plausible one mutated at a key path, a graph problem, or hostile text. */
export function workflowYaml(rng: Rng): { what: string; text: string } {
  const r = rng.float();
  if (r < 0.12) return hostileYaml(rng);
  const base = plausibleWorkflow(rng);
  if (r < 0.2) {
    const text = stringify(base, YAML_OPTS);
    const cut = rng.int(text.length);
    return { what: `truncated at ${cut}`, text: text.slice(0, cut) };
  }
  if (r < 0.3) return rng.pick<() => { what: string; text: string }>(SPECIAL_WORKFLOWS)();
  if (r < 0.38) return { what: "valid", text: stringify(base, YAML_OPTS) };
  let tree: unknown = base;
  const paths: string[] = [];
  for (let i = rng.between(1, 3); i > 0; i--) {
    const m = mutateTree(rng, tree, () => advYamlValue(rng));
    tree = m.tree;
    paths.push(m.path);
  }
  return { what: `values at ${paths.join(", ")}`, text: stringify(tree, YAML_OPTS) };
}

const SPECIAL_WORKFLOWS: (() => { what: string; text: string })[] = [
  () => ({ what: "a dependency cycle", text: stringify({ jobs: { a: { command: "true", requires: [{ b: "COMPLETED" }] }, b: { command: "true", requires: [{ a: "COMPLETED" }] } } }) }),
  () => ({ what: "a self requirement", text: stringify({ jobs: { a: { command: "true", requires: [{ a: "COMPLETED" }] } } }) }),
  () => ({ what: "an unknown requirement", text: stringify({ jobs: { a: { command: "true", requires: [{ ghost: "COMPLETED" }] } } }) }),
  () => ({ what: "1001 jobs", text: stringify({ jobs: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`j${i}`, { command: "true" }])) }) }),
  () => ({ what: "a chain of 500 jobs", text: stringify({ jobs: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`j${i}`, i ? { command: "true", requires: [{ [`j${i - 1}`]: "FINISHED" }] } : { command: "true" }])) }) }),
  () => ({ what: "bad job names", text: stringify({ jobs: { "": { command: "true" }, "../x": { command: "true" }, "a\0b": { command: "true" }, "💥": { command: "true" }, __proto__x: { command: "true" } } }) }),
  () => ({ what: "a job named __proto__", text: 'jobs:\n  __proto__:\n    command: "true"\n  constructor:\n    command: "true"\n' }),
  () => ({ what: "10000 environment entries", text: stringify({ jobs: { a: { command: "true", environment: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`V_${i}`, `v${i}`])) } } }) }),
  () => ({ what: "bad environment names", text: stringify({ jobs: { a: { command: "true", environment: Object.fromEntries(BAD_ENV_NAMES.map((n, i) => [n, i])) } } }) }),
  () => ({ what: "__proto__ in environment", text: 'jobs:\n  a:\n    command: "true"\n    environment:\n      __proto__: "x"\n      constructor: "y"\n' }),
  () => ({ what: "uploads that escape", text: stringify({ jobs: { a: { command: "true", uploads: { files: ["../../etc/passwd", "/etc/shadow", DEEP_PATH, "a\0b"] } } } }) }),
  () => ({ what: "a 1 MB argument", text: stringify({ jobs: { a: { command: "echo", args: [huge(MB + 1)] } } }) }),
  () => ({ what: "a 1 MB command", text: stringify({ jobs: { a: { command: huge(MB + 1) } } }) }),
  () => ({ what: "negative and overflowing limits", text: stringify({ jobs: { a: { command: "true", resources: { max_cpu: -1, max_memory: 2 ** 31, max_io_bps: 1e308, max_pids: -(2 ** 31), cpu_cores: "0-1000000000" } } } }) }),
  () => ({ what: "requirements of the wrong shape", text: stringify({ jobs: { a: { command: "true" }, b: { command: "true", requires: ["a", { a: "COMPLETED", b: "FAILED" }, [], null, { a: "MAYBE" }] } } }) }),
  () => ({ what: "a billion laughs inside a job", text: `${billionLaughs(8, 8)}jobs:\n  a:\n    command: "true"\n    args: *a8\n` }),
  () => ({ what: "merge keys", text: 'base: &base\n  command: "true"\n  args: [x]\njobs:\n  a:\n    <<: *base\n  b:\n    <<: [*base, *base]\n' }),
];

// ---------------------------------------------------------------------------------------------
// The checks an answer must pass

/** Signs that an internal failure leaked into an answer: stack frames, JS error class names, engine messages. */
export const CRASH_SIGNS: readonly RegExp[] = [
  /^\s+at \S/m,
  /\bat .+\(.+:\d+:\d+\)/,
  /\b(TypeError|ReferenceError|RangeError|SyntaxError|EvalError|InternalError)\b/,
  /undefined is not|null is not|is not a function|is not an object|cannot read propert|can't access property|is not iterable/i,
  /Maximum call stack/i,
  /\[object Object\]/,
  /\bpanic\b|segmentation fault|core dumped|Aborted/i,
];

/** The first crash sign in `text`, or undefined. */
export function crashSign(text: string): string | undefined {
  for (const re of CRASH_SIGNS) {
    const m = re.exec(text);
    if (m) return `${re.source}: ${JSON.stringify(text.slice(Math.max(0, m.index - 60), m.index + 120))}`;
  }
  return undefined;
}

/** One segment of a key path: a plain key, an index, or a quoted key (`jobs["a b"]`). */
const SEGMENT = String.raw`(?:[\p{L}\p{N}_\-./@$+]+|\[\d+\]|\["(?:[^"\\]|\\.)*"\])`;

/** A problem line names where it is: a key path ("server.port", "jobs.a.requires[0]", `jobs["x y"]`, "(top level)"), a field, or the file, then ": ". */
export const PROBLEM_LINE = new RegExp(String.raw`^(?:(?:\(top level\)|${SEGMENT}+)(?:: not valid YAML)?|not valid YAML): \S`, "u");

// ---------------------------------------------------------------------------------------------
// gRPC requests: every request message, built plausibly, at random, or broken on the wire

/** What earlier answers taught the fuzzer: ids of real jobs and workflows, so requests reach them. */
export interface FuzzState {
  jobs: string[];
  workflows: string[];
}

export interface FuzzRequest {
  bytes: Buffer;
  /** how it was made, for the report and for reproducing it */
  what: string;
}

const remember = (list: string[], id: string, rng: Rng) => {
  if (list.length < 256) list.push(id);
  else list[rng.int(list.length)] = id;
};

export function learn(state: FuzzState, rng: Rng, kind: "job" | "workflow", id: string): void {
  if (id) remember(kind === "job" ? state.jobs : state.workflows, id, rng);
}

/** An id field: a real id, a prefix of one (8+ or too short), its upper case, or something else entirely. */
function idValue(rng: Rng, known: readonly string[]): string | Buffer {
  const real = known.length ? rng.pick(known) : "00000000-0000-4000-8000-000000000000";
  return rng.weighted<() => string | Buffer>([
    [() => real, 5],
    [() => real.slice(0, rng.between(8, 35)), 2],
    [() => real.slice(0, rng.between(0, 7)), 1],
    [() => real.toUpperCase(), 1],
    [() => `${real}\0`, 1],
    [() => `${real}x`, 1],
    [() => rng.bytes(16).toString("hex").replace(/^(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-"), 1],
    [() => advString(rng), 3],
  ])();
}

/** A value of a field's type: adversarial for its type. */
function fieldValue(rng: Rng, schema: ProtoSchema, type: string, depth: number): WireValue {
  switch (type) {
    case "string":
      return advString(rng);
    case "bytes":
      return rng.bytes(rng.length(256));
    case "bool":
      return rng.pick([0n, 1n, 2n, 2n ** 64n - 1n]);
    case "double":
      return rng.pick([0, -1, Number.NaN, Number.POSITIVE_INFINITY, -0, 1e308, 5e-324]);
    default:
      if (SCALAR_VARINT.has(type)) return advInt(rng);
      return depth > 3 ? {} : randomObject(rng, schema, type, depth + 1);
  }
}

/** Every field of `type` present or not, each with an adversarial value of its type. */
export function randomObject(rng: Rng, schema: ProtoSchema, type: string, depth = 0): WireObject {
  const obj: WireObject = {};
  for (const f of schema.messages.get(type) ?? []) {
    if (!rng.chance(0.5)) continue;
    if (f.map) obj[f.name] = Array.from({ length: rng.length(8) }, () => [fieldValue(rng, schema, f.map!.key, depth), fieldValue(rng, schema, f.map!.value, depth)] as [WireValue, WireValue]);
    else if (f.repeated) obj[f.name] = Array.from({ length: rng.length(8) }, () => fieldValue(rng, schema, f.type, depth));
    else obj[f.name] = fieldValue(rng, schema, f.type, depth);
  }
  return obj;
}

const uploadObject = (u: Upload): WireObject => ({ path: u.path, content: u.content, mode: u.mode, is_directory: u.is_directory });
const envPairs = (o: Record<string, string>) => Object.entries(o) as [string, string][];

/** A RunJob request that mostly makes sense (so it gets past the first check), with one or more things wrong or extreme. */
function runJobObject(rng: Rng, schema: ProtoSchema, state: FuzzState): { obj: WireObject; what: string } {
  const obj: WireObject = { command: rng.pick(["true", "echo", "/bin/true", "printf"]) };
  if (rng.chance(0.5)) obj.args = ["fuzz", String(rng.int(1000))];
  if (rng.chance(0.2)) obj.timeout = "20s";
  const what = rng.weighted<() => string>([
    [() => "a plain job", 6],
    [
      () => {
        const fields = (schema.messages.get("RunJobRequest") ?? []).filter(() => rng.chance(0.25));
        for (const f of fields) Object.assign(obj, { [f.name]: randomObject(rng, schema, "RunJobRequest")[f.name] });
        return `adversarial ${fields.map((f) => f.name).join(",") || "nothing"}`;
      },
      10,
    ],
    [
      () => {
        const b = rng.pick(BAD_UPLOADS);
        obj.uploads = b.uploads.map(uploadObject);
        return `uploads: ${b.what}`;
      },
      4,
    ],
    [
      () => {
        const b = rng.pick(ODD_UPLOADS);
        obj.uploads = b.uploads.map(uploadObject);
        return `uploads: ${b.what}`;
      },
      3,
    ],
    [
      () => {
        const n = rng.pick([1000, 10_000]);
        obj.uploads = manyUploads(n).map(uploadObject);
        return `${n} uploads`;
      },
      0.15,
    ],
    [
      () => {
        obj.uploads = [...manyUploads(500), ...rng.pick(BAD_UPLOADS).uploads].map(uploadObject);
        return "500 uploads then a bad one";
      },
      0.3,
    ],
    [
      () => {
        const bad = rng.chance(0.5);
        obj.environment = manyEnv(rng, 10_000, bad);
        return `10000 environment entries${bad ? " with bad names" : ""}`;
      },
      0.15,
    ],
    [
      () => {
        obj[rng.pick(["environment", "secret_environment"])] = [[rng.pick([...BAD_ENV_NAMES, ...ODD_ENV_NAMES]), String(advString(rng))]];
        return "an odd environment name";
      },
      2,
    ],
    [
      () => {
        obj.environment = [["BIG", huge(rng.pick([32 * 1024 + 1, MB + 1]))]];
        return "a huge environment value";
      },
      0.3,
    ],
    [
      () => {
        obj.command = "echo";
        obj.args = [huge(rng.pick([MB + 1, MB - 100, 131_073, 131_072]))];
        return `a ${(obj.args[0] as string).length}-byte argument`;
      },
      0.4,
    ],
    [
      () => {
        obj.command = huge(rng.pick([MB + 1, 4097]), "/");
        return "a huge command";
      },
      0.3,
    ],
    [
      () => {
        obj.args = Array.from({ length: rng.pick([10_000, 100_001]) }, (_, i) => `a${i}`);
        return `${(obj.args as string[]).length} arguments`;
      },
      0.1,
    ],
    [
      () => {
        obj.name = rng.pick(NASTY_STRINGS);
        obj.work_dir = rng.pick(["/work", "/work/x", "/tmp", ...NASTY_STRINGS.filter((s) => s.startsWith("/"))]);
        return "an odd name or work_dir";
      },
      3,
    ],
    [
      () => {
        const f = rng.pick(["max_cpu", "max_memory", "max_io_bps", "max_pids", "gpu_count", "gpu_memory_mb"]);
        obj[f] = rng.pick(EDGE_INTS);
        return `${f}=${obj[f]}`;
      },
      4,
    ],
    [
      () => {
        obj.cpu_cores = rng.pick(CPU_LISTS);
        return "cpu_cores";
      },
      2,
    ],
    [
      () => {
        obj.cpu_cores = `${"0,".repeat(rng.pick([1000, 200_000]))}0`;
        return "a long cpu_cores list";
      },
      0.1,
    ],
    [
      () => {
        const which = rng.pick(["schedule", "cron", "both", "overlap"]);
        if (which !== "cron") obj.schedule = rng.pick(TIMES);
        if (which !== "schedule") obj.cron = rng.pick(CRONS);
        if (which === "overlap") obj.allow_overlap = rng.pick([1n, 7n]);
        return `schedule/cron: ${which}`;
      },
      2,
    ],
    [
      () => {
        obj.timeout = rng.pick(DURATIONS);
        return `timeout ${JSON.stringify(obj.timeout)}`;
      },
      2,
    ],
    [
      () => {
        obj.network = rng.pick(["none", "host", "bridge", ...NASTY_STRINGS]);
        obj.volumes = rng.chance(0.5) ? [rng.pick(NASTY_STRINGS)] : [];
        obj.runtime = rng.chance(0.3) ? rng.pick(NASTY_STRINGS) : "";
        return "network/volumes/runtime";
      },
      1,
    ],
  ])();
  void state;
  return { obj, what };
}

function runWorkflowObject(rng: Rng): { obj: WireObject; what: string } {
  const y = workflowYaml(rng);
  const files: Upload[] = [];
  // the files its YAML names, sent like rnx sends them (plus, now and then, ones it does not name or bad ones)
  for (const m of y.text.matchAll(/^\s*-\s+(\S+)\s*$/gm)) if (rng.chance(0.3)) files.push({ path: m[1]!, content: Buffer.from("x") });
  if (rng.chance(0.1)) files.push(...rng.pick(BAD_UPLOADS).uploads);
  return {
    obj: {
      workflow: rng.chance(0.8) ? "fuzz.yaml" : advString(rng),
      total_jobs: rng.chance(0.7) ? 0n : advInt(rng),
      job_order: rng.chance(0.8) ? [] : [advString(rng)],
      yaml_content: y.text,
      workflow_files: files.map(uploadObject),
    },
    what: `workflow: ${y.what}`,
  };
}

/** A request object for `type` that makes sense for it (ids of real jobs, plausible numbers), with a twist. */
export function plausibleObject(rng: Rng, schema: ProtoSchema, type: string, state: FuzzState): { obj: WireObject; what: string } {
  switch (type) {
    case "RunJobRequest":
      return runJobObject(rng, schema, state);
    case "RunWorkflowRequest":
      return runWorkflowObject(rng);
    case "GetJobStatusRequest":
    case "StopJobRequest":
    case "CancelJobRequest":
    case "DeleteJobRequest":
    case "GetJobLogsRequest":
      return { obj: { uuid: idValue(rng, state.jobs) }, what: "a job id" };
    case "StreamJobMetricsRequest":
      return { obj: { job_uuid: idValue(rng, state.jobs) }, what: "a job id" };
    case "GetJobMetricsRequest":
      return { obj: { job_uuid: idValue(rng, state.jobs), start_time: advInt(rng), end_time: advInt(rng), limit: advInt(rng) }, what: "a job id and a time range" };
    case "StreamJobTelematicsRequest":
    case "GetJobTelematicsRequest":
      return { obj: { job_uuid: idValue(rng, state.jobs), types: [advString(rng)] }, what: "a job id" };
    case "GetWorkflowStatusRequest":
      return { obj: { uuid: idValue(rng, state.workflows), include_yaml: rng.pick([0n, 1n, 2n ** 64n - 1n]) }, what: "a workflow id" };
    case "CancelWorkflowRequest":
    case "DeleteWorkflowRequest":
      return { obj: { uuid: idValue(rng, state.workflows) }, what: "a workflow id" };
    case "ListWorkflowsRequest":
      return { obj: { include_completed: rng.pick([0n, 1n, 2n ** 64n - 1n]) }, what: "include_completed" };
    case "StreamMetricsRequest":
      return { obj: { interval_seconds: advInt(rng), metric_types: [advString(rng)] }, what: "an interval" };
    default:
      return { obj: randomObject(rng, schema, type), what: "random fields" };
  }
}

const HUGE_LENGTHS: readonly bigint[] = [2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, 1_000_000_000n];

/** A field of any number and wire type with a body that may or may not fit it. */
function strayField(rng: Rng): WireField {
  const field = rng.pick([1, 2, 3, 15, 16, 99, 999, 19_000, 2 ** 29 - 1, rng.between(1, 2 ** 29 - 1)]);
  const wireType = rng.int(8); // 6 and 7 do not exist
  const body = wireType === WT.VARINT ? varint(advInt(rng)) : wireType === WT.I64 ? rng.bytes(8) : wireType === WT.I32 ? rng.bytes(4) : wireType === WT.LEN ? Buffer.concat([varint(rng.length(64)), rng.bytes(rng.length(64))]) : rng.bytes(rng.int(4));
  return { field, wireType, body };
}

/** Breaks an encoding: bit flips, truncation, wrong wire types, huge lengths, repeats, unknown fields, deep groups, bad varints. */
export function mutate(rng: Rng, fields: WireField[]): { bytes: Buffer; what: string } {
  const kind = rng.pick(["bit flips", "truncated", "wrong wire type", "huge length prefix", "repeated field", "unknown fields", "field number 0", "overlong varint", "nested groups", "unmatched end group", "trailing garbage", "shuffled"] as const);
  const fs = [...fields];
  const any = () => (fs.length ? rng.int(fs.length) : -1);
  switch (kind) {
    case "bit flips": {
      const b = Buffer.from(joinFields(fs));
      if (b.length === 0) return { bytes: rng.bytes(4), what: kind };
      for (let i = rng.between(1, 8); i > 0; i--) flipBit(b, rng);
      return { bytes: b, what: kind };
    }
    case "truncated": {
      const b = joinFields(fs);
      return { bytes: b.subarray(0, b.length ? rng.int(b.length) : 0), what: kind };
    }
    case "wrong wire type": {
      const i = any();
      const f = i >= 0 ? fs[i]! : { field: 1, wireType: WT.LEN, body: Buffer.from([0]) };
      const wt = rng.pick([0, 1, 2, 3, 4, 5].filter((w) => w !== f.wireType));
      const body = wt === WT.VARINT ? varint(advInt(rng)) : wt === WT.I64 ? rng.bytes(8) : wt === WT.I32 ? rng.bytes(4) : wt === WT.LEN ? Buffer.concat([varint(f.body.length), f.body]) : wt === WT.SGROUP ? Buffer.concat([f.body, tag(f.field, WT.EGROUP)]) : Buffer.alloc(0);
      if (i >= 0) fs[i] = { field: f.field, wireType: wt, body };
      else fs.push({ field: f.field, wireType: wt, body });
      return { bytes: joinFields(fs), what: `${kind} ${wt} on field ${f.field}` };
    }
    case "huge length prefix": {
      const i = fs.findIndex((f) => f.wireType === WT.LEN);
      const field = i >= 0 ? fs[i]!.field : rng.between(1, 20);
      const len = rng.pick(HUGE_LENGTHS);
      const f: WireField = { field, wireType: WT.LEN, body: Buffer.concat([varint(len), rng.bytes(rng.int(16))]) };
      if (i >= 0 && rng.chance(0.5)) fs[i] = f;
      else fs.splice(rng.int(fs.length + 1), 0, f);
      return { bytes: joinFields(fs), what: `${kind} ${len} on field ${field}` };
    }
    case "repeated field": {
      const i = any();
      if (i < 0) return { bytes: joinFields([strayField(rng)]), what: kind };
      const n = fs[i]!.body.length > 64 * 1024 ? 2 : rng.pick([2, 10, 1000]); // a megabyte field a thousand times would be a gigabyte here
      const copies = Array.from({ length: n }, () => fs[i]!);
      fs.splice(i, 1, ...copies);
      return { bytes: joinFields(fs), what: `${kind} ${fs[i]!.field} x${n}` };
    }
    case "unknown fields": {
      for (let n = rng.between(1, 10); n > 0; n--) fs.splice(rng.int(fs.length + 1), 0, strayField(rng));
      return { bytes: joinFields(fs), what: kind };
    }
    case "field number 0":
      return { bytes: Buffer.concat([joinFields(fs), Buffer.from([0x00, 0x01]), joinFields(fs)]), what: kind };
    case "overlong varint":
      return { bytes: Buffer.concat([joinFields(fs), Buffer.alloc(rng.pick([10, 11, 20]), 0xff), Buffer.from([0x01])]), what: kind };
    case "nested groups": {
      const depth = rng.pick([100, 10_000, 200_000]);
      const parts = [joinFields(fs), Buffer.alloc(depth, tag(rng.between(1, 15), WT.SGROUP))];
      if (rng.chance(0.5)) parts.push(Buffer.alloc(depth, tag(1, WT.EGROUP)));
      return { bytes: Buffer.concat(parts), what: `${kind} x${depth}` };
    }
    case "unmatched end group":
      return { bytes: Buffer.concat([joinFields(fs), tag(rng.between(1, 30), WT.EGROUP)]), what: kind };
    case "trailing garbage":
      return { bytes: Buffer.concat([joinFields(fs), rng.bytes(rng.between(1, 64))]), what: kind };
    case "shuffled": {
      for (let i = fs.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [fs[i], fs[j]] = [fs[j]!, fs[i]!];
      }
      return { bytes: joinFields(fs), what: kind };
    }
  }
}

/** One request for a method whose request message is `type`. */
export function fuzzRequest(rng: Rng, schema: ProtoSchema, type: string, state: FuzzState): FuzzRequest {
  const r = rng.float();
  if (r < 0.03) return { bytes: Buffer.alloc(0), what: "empty" };
  if (r < 0.12) return { bytes: rng.bytes(rng.chance(0.95) ? rng.between(1, 128) : rng.between(1, 64 * 1024)), what: "random bytes" };
  if (r < 0.3) return { bytes: encodeMessage(schema, type, randomObject(rng, schema, type)), what: "random fields" };
  const p = plausibleObject(rng, schema, type, state);
  const fields = encodeFields(schema, type, p.obj);
  if (r < 0.78) return { bytes: joinFields(fields), what: p.what };
  const m = mutate(rng, fields);
  return { bytes: m.bytes, what: `${p.what}; ${m.what}` };
}

// ---------------------------------------------------------------------------------------------
// Sending them: every method of every service, raw bytes on the wire, every answer judged

export interface RpcOutcome {
  code: number;
  details: string;
  /** messages received (a stream's chunks, or 1 for a unary answer) */
  messages: number;
  ms: number;
}

export interface FuzzFailure {
  index: number;
  path: string;
  what: string;
  problem: string;
}

export interface MethodStats {
  sent: number;
  codes: Map<string, number>;
  maxMs: number;
  bytes: number;
}

export interface GrpcFuzzReport {
  seed: number;
  requests: number;
  perMethod: Map<string, MethodStats>;
  failures: FuzzFailure[];
  slowest: { ms: number; path: string; what: string; index: number }[];
  /** the biggest requests sent (candidates for what held the daemon up when answers were slow) */
  largest: { bytes: number; path: string; what: string; index: number }[];
  elapsedMs: number;
}

/** What is wrong with an answer, or undefined: a proper status is OK, or a code a client can act on with details free of internals. */
export function judgeStatus(code: number, details: string): string | undefined {
  const name = Status[code] ?? `code ${code}`;
  if (code === Status.OK) return undefined;
  if (code === Status.UNAVAILABLE) return `UNAVAILABLE (connection dropped or refused): ${details}`;
  if (code === Status.INTERNAL || code === Status.UNKNOWN || code === Status.DATA_LOSS) return `${name}: ${details}`;
  if (code === Status.DEADLINE_EXCEEDED) return `no answer before the deadline: ${details}`;
  if (code === Status.CANCELLED) return `CANCELLED by the server: ${details}`;
  if (!details.trim()) return `${name} without details`;
  const sign = crashSign(details);
  return sign ? `${name} leaks internals (${sign})` : undefined;
}


export interface GrpcFuzzOptions {
  address: string;
  ca: string;
  cert: { cert: string; key: string };
  seed: number;
  requests: number;
  /** requests in flight at once */
  concurrency?: number;
  /** per request, ms */
  deadlineMs?: number;
  /** how often each method is picked relative to the others (default 1) */
  weights?: Record<string, number>;
  /** called every `every` requests */
  progress?: (done: number, report: GrpcFuzzReport) => void;
  /** stop early (the daemon died) */
  abort?: () => boolean;
  /** send only these requests of the sequence (to reproduce a failure: its seed and index) */
  only?: number[];
}

/**
 * Sends `requests` fuzzed requests spread over every method of every service in src/gen/joblet.ts,
 * as raw bytes (a custom requestSerialize: invalid protobuf really goes on the wire), and judges
 * every answer. Request #i is built from its own generator, mix(seed, i); which method it goes to,
 * too. Ids of jobs and workflows created on the way are fed back into later requests.
 */
export async function fuzzGrpc(o: GrpcFuzzOptions): Promise<GrpcFuzzReport> {
  const grpc = await import("@grpc/grpc-js");
  const gen = await import("../../src/gen/joblet");
  const schema = protoSchema();
  const methods: { path: string; key: string; request: string; responseStream: boolean; decode: (b: Buffer) => unknown }[] = [];
  const definition: Record<string, unknown> = {};
  for (const [exportName, def] of Object.entries(gen)) {
    if (!exportName.endsWith("ServiceService")) continue;
    for (const [name, m] of Object.entries(def as Record<string, { path: string; responseStream: boolean; responseDeserialize: (b: Buffer) => unknown }>)) {
      const proto = schema.methods.find((x) => x.path === m.path);
      if (!proto) throw new Error(`fuzz: ${m.path} is not in proto/joblet.proto`);
      const key = `${exportName}.${name}`;
      definition[key] = { ...m, requestSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
      methods.push({ path: m.path, key, request: proto.request, responseStream: m.responseStream, decode: m.responseDeserialize });
    }
  }
  if (methods.length !== schema.methods.length) throw new Error(`fuzz: ${methods.length} generated methods, ${schema.methods.length} in the .proto`);
  const Client = grpc.makeGenericClientConstructor(definition as never, "Fuzz");
  const creds = grpc.credentials.createSsl(Buffer.from(o.ca), Buffer.from(o.cert.key), Buffer.from(o.cert.cert));
  const channelOptions = { "grpc.ssl_target_name_override": "joblet", "grpc.max_send_message_length": 256 * MB, "grpc.max_receive_message_length": 256 * MB };
  // a few connections, as several clients would have
  const clients = Array.from({ length: 4 }, (_, i) => new Client(o.address, creds, { ...channelOptions, "grpc.use_local_subchannel_pool": 1, "fuzz.client": i } as never) as unknown as Record<string, (...a: unknown[]) => unknown> & { close(): void });
  const weights = methods.map((m) => [m, o.weights?.[m.path] ?? 1] as const);
  const state: FuzzState = { jobs: [], workflows: [] };
  const report: GrpcFuzzReport = { seed: o.seed, requests: 0, perMethod: new Map(methods.map((m) => [m.path, { sent: 0, codes: new Map(), maxMs: 0, bytes: 0 }])), failures: [], slowest: [], largest: [], elapsedMs: 0 };
  const started = performance.now();
  const deadlineMs = o.deadlineMs ?? 60_000;

  const send = (m: (typeof methods)[number], bytes: Buffer, client: (typeof clients)[number]): Promise<RpcOutcome & { answer?: unknown }> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const md = new grpc.Metadata();
      const opts = { deadline: Date.now() + deadlineMs };
      if (m.responseStream) {
        let messages = 0;
        const call = client[m.key]!(bytes, md, opts) as import("@grpc/grpc-js").ClientReadableStream<Buffer>;
        call.on("data", () => messages++);
        call.on("error", (e: import("@grpc/grpc-js").ServiceError) => resolve({ code: e.code, details: e.details ?? "", messages, ms: performance.now() - t0 }));
        call.on("status", (s: import("@grpc/grpc-js").StatusObject) => {
          if (s.code === 0) resolve({ code: 0, details: s.details, messages, ms: performance.now() - t0 });
        });
      } else {
        client[m.key]!(bytes, md, opts, (e: import("@grpc/grpc-js").ServiceError | null, r: Buffer) =>
          resolve(e ? { code: e.code, details: e.details ?? "", messages: 0, ms: performance.now() - t0 } : { code: 0, details: "", messages: 1, ms: performance.now() - t0, answer: r }),
        );
      }
    });

  const indices = o.only ?? Array.from({ length: o.requests }, (_, i) => i);
  let next = 0;
  const worker = async (w: number) => {
    for (let k = next++; k < indices.length && !o.abort?.(); k = next++) {
      const i = indices[k]!;
      const rng = new Rng(mix(o.seed, i));
      const m = rng.weighted(weights);
      const req = fuzzRequest(rng, schema, m.request, state);
      const out = await send(m, req.bytes, clients[w % clients.length]!);
      report.requests++;
      const s = report.perMethod.get(m.path)!;
      s.sent++;
      s.bytes += req.bytes.length;
      const name = Status[out.code] ?? String(out.code);
      s.codes.set(name, (s.codes.get(name) ?? 0) + 1);
      s.maxMs = Math.max(s.maxMs, out.ms);
      if (report.slowest.length < 10 || out.ms > report.slowest.at(-1)!.ms) {
        report.slowest.push({ ms: out.ms, path: m.path, what: req.what, index: i });
        report.slowest.sort((a, b) => b.ms - a.ms).splice(10);
      }
      if (report.largest.length < 20 || req.bytes.length > report.largest.at(-1)!.bytes) {
        report.largest.push({ bytes: req.bytes.length, path: m.path, what: req.what, index: i });
        report.largest.sort((a, b) => b.bytes - a.bytes).splice(20);
      }
      const problem = judgeStatus(out.code, out.details);
      if (problem) report.failures.push({ index: i, path: m.path, what: req.what, problem });
      if (out.code === 0 && out.answer) {
        try {
          const a = m.decode(out.answer as Buffer) as { jobUuid?: string; workflowUuid?: string };
          if (a.jobUuid) learn(state, rng, "job", a.jobUuid);
          if (a.workflowUuid) learn(state, rng, "workflow", a.workflowUuid);
        } catch (e) {
          report.failures.push({ index: i, path: m.path, what: req.what, problem: `the answer does not decode: ${(e as Error).message}` });
        }
      }
      if (o.progress && report.requests % 1000 === 0) o.progress(report.requests, report);
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency ?? 16 }, (_, w) => worker(w)));
  } finally {
    for (const c of clients) c.close();
  }
  report.elapsedMs = performance.now() - started;
  return report;
}

/** A table of a report: requests, status codes and the slowest answer per method. */
export function formatReport(r: GrpcFuzzReport): string {
  const codes = [...new Set([...r.perMethod.values()].flatMap((s) => [...s.codes.keys()]))].sort((a, b) => (Status[a as keyof typeof Status] ?? 99) - (Status[b as keyof typeof Status] ?? 99));
  const short: Record<string, string> = { INVALID_ARGUMENT: "INVALID", FAILED_PRECONDITION: "PRECOND", RESOURCE_EXHAUSTED: "EXHAUSTED", UNIMPLEMENTED: "UNIMPL" };
  const head = ["method", "sent", ...codes.map((c) => short[c] ?? c), "max ms"];
  const rows = [...r.perMethod.entries()].map(([path, s]) => [path.replace("/joblet.", ""), String(s.sent), ...codes.map((c) => String(s.codes.get(c) ?? "")), s.maxMs.toFixed(0)]);
  const total = ["total", String(r.requests), ...codes.map((c) => String([...r.perMethod.values()].reduce((n, s) => n + (s.codes.get(c) ?? 0), 0))), Math.max(...[...r.perMethod.values()].map((s) => s.maxMs)).toFixed(0)];
  const all = [head, ...rows, total];
  const widths = head.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), ...rows.map(line), line(total)].join("\n");
}

// ---------------------------------------------------------------------------------------------
// YAML through the product: `joblet --config=F --validate`, `rnx workflow run F`, RunWorkflow

export interface Spawned {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `argv` with a time limit; code -1 when it had to be killed. */
export async function spawnText(argv: string[], timeoutMs = 30_000, env: Record<string, string> = {}): Promise<Spawned> {
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...env } });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  clearTimeout(timer);
  return { code: p.signalCode ? -1 : code, stdout, stderr };
}

/** Runs `fn` over `items`, `concurrency` at a time, in order of start. */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
    }),
  );
  return out;
}

const lineProblem = (line: string) => (PROBLEM_LINE.test(line) ? undefined : `a line that names no key path: ${JSON.stringify(line.slice(0, 200))}`);

/** What is wrong with `joblet --config=F --validate`'s answer: exit 0 with OK, or 1 with every problem on a line naming its key path; nothing on stderr, no internals. */
export function judgeValidate(r: Spawned): string | undefined {
  if (r.code === -1) return "no answer within the time limit (killed)";
  if (r.code !== 0 && r.code !== 1) return `exit ${r.code}: ${(r.stderr || r.stdout).slice(0, 300)}`;
  const sign = crashSign(`${r.stdout}\n${r.stderr}`);
  if (sign) return `internals in the answer (${sign})`;
  if (r.stderr.trim()) return `stderr: ${r.stderr.slice(0, 300)}`;
  const lines = r.stdout.trimEnd().split("\n");
  if (r.code === 0) return lines.at(-1) === "OK" ? undefined : `exit 0 without OK: ${r.stdout.slice(-200)}`;
  if (!/^invalid: \d+ problems?$/.test(lines.at(-1) ?? "")) return `exit 1 without the summary line: ${r.stdout.slice(-200)}`;
  for (const l of lines.slice(0, -1)) {
    const p = lineProblem(l.replace(/^warning: /, ""));
    if (p) return p;
  }
  return undefined;
}

/** What is wrong with `rnx workflow run F`'s answer: exit 0, or an error whose every problem names a job and field (or the file, or a key path). */
export function judgeWorkflowRun(r: Spawned): string | undefined {
  if (r.code === -1) return "no answer within the time limit (killed)";
  if (r.code !== 0 && r.code !== 1 && r.code !== 2) return `exit ${r.code}: ${(r.stderr || r.stdout).slice(0, 300)}`;
  const sign = crashSign(`${r.stdout}\n${r.stderr}`);
  if (sign) return `internals in the answer (${sign})`;
  if (r.code === 0) return /^ID:?\s/m.test(r.stdout) && !r.stderr.trim() ? undefined : `exit 0 but: ${(r.stdout + r.stderr).slice(0, 300)}`;
  if (!r.stderr.startsWith("error: ")) return `an error not on stderr as "error: …": ${(r.stderr || r.stdout).slice(0, 300)}`;
  const [first, ...rest] = r.stderr.trimEnd().split("\n");
  const head = first!.slice("error: ".length).replace(/^[A-Z_]+: /, "");
  if (!rest.length) return /^(cannot reach|no answer)/.test(head) ? undefined : lineProblem(head);
  if (!head.endsWith(":")) return `a multi-line error without a heading: ${JSON.stringify(first)}`;
  for (const l of rest) {
    const p = lineProblem(l.trim());
    if (p) return p;
  }
  return undefined;
}

/** What is wrong with RunWorkflow's answer: OK, or INVALID_ARGUMENT listing problems that each name a job and field (or a key path). */
export function judgeRunWorkflow(code: number, details: string): string | undefined {
  const basic = judgeStatus(code, details);
  if (basic || code !== Status.INVALID_ARGUMENT) return basic;
  const [first, ...rest] = details.split("\n");
  if (!rest.length) return lineProblem(first!);
  if (!/^workflow .*:$/.test(first!)) return `no "workflow <name>:" heading: ${JSON.stringify(first!.slice(0, 200))}`;
  for (const l of rest) {
    if (/^… and \d+ more problems$/.test(l)) continue;
    const p = lineProblem(l);
    if (p) return p;
  }
  return undefined;
}

export interface YamlFuzzReport {
  sent: number;
  outcomes: Map<string, number>;
  failures: { index: number; what: string; problem: string; file?: string }[];
  elapsedMs: number;
}

function newYamlReport(): YamlFuzzReport {
  return { sent: 0, outcomes: new Map(), failures: [], elapsedMs: 0 };
}
const count = (r: YamlFuzzReport, outcome: string) => r.outcomes.set(outcome, (r.outcomes.get(outcome) ?? 0) + 1);

/** The server configurations the configuration guide gives (they all validate): what the config fuzzer mutates. */
export function seedConfigs(): unknown[] {
  const dir = join(REPO, "test", "fixtures", "config", "seed");
  return ["joblet-config.full.yml", "joblet-config.production.yml", "joblet-config.development.yml", "joblet-config.ci.yml"].map((f) => parseYamlText(readFileSync(join(dir, f), "utf8")) as unknown);
}

/** A command line's runner: the compiled binary (a process each), or the same dispatcher in this process (no process start: for many inputs in CI). */
export type Cli = { argv0: string[]; concurrency: number } | { inProcess: "joblet" | "rnx" };

export const binary = (path: string, concurrency = 4): Cli => ({ argv0: [path], concurrency });

let capturing = false;

/** Runs the CLI dispatcher in this process with stdout and stderr captured (one at a time). */
export async function cliInProcess(program: "joblet" | "rnx", argv: string[]): Promise<Spawned> {
  if (capturing) throw new Error("cliInProcess: one at a time");
  const { run } = await import("../../src/commands/dispatch");
  let stdout = "";
  let stderr = "";
  const text = (c: string | Uint8Array) => (typeof c === "string" ? c : Buffer.from(c).toString());
  const out = process.stdout.write;
  const err = process.stderr.write;
  capturing = true;
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += text(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += text(c)), true)) as typeof process.stderr.write;
  try {
    const code = await run(program, argv);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    capturing = false;
  }
}

const runCli = (cli: Cli, args: string[]) => ("inProcess" in cli ? cliInProcess(cli.inProcess, args) : spawnText([...cli.argv0, ...args]));
const cliConcurrency = (cli: Cli) => ("inProcess" in cli ? 1 : cli.concurrency);

/** `count` configurations through `joblet --config=F --validate`, each in a directory of its own under `dir`. */
export async function fuzzValidate(o: { cli: Cli; dir: string; seed: number; count: number }): Promise<YamlFuzzReport> {
  const { mkdirSync, writeFileSync } = await import("node:fs");
  const bases = seedConfigs();
  const report = newYamlReport();
  const t0 = performance.now();
  await pool(
    Array.from({ length: o.count }, (_, i) => i),
    cliConcurrency(o.cli),
    async (i) => {
      const rng = new Rng(mix(o.seed ^ 0x5a17, i));
      const c = configYaml(rng, bases);
      const sub = join(o.dir, `config-${i}`);
      mkdirSync(sub, { recursive: true });
      const file = join(sub, "joblet-config.yml");
      writeFileSync(file, c.text);
      const r = await runCli(o.cli, [`--config=${file}`, "--validate"]);
      report.sent++;
      count(report, r.code === 0 ? "valid" : r.code === 1 ? "invalid" : `exit ${r.code}`);
      const problem = judgeValidate(r);
      if (problem) report.failures.push({ index: i, what: c.what, problem, file });
    },
  );
  report.elapsedMs = performance.now() - t0;
  return report;
}

/** `count` workflow files through `rnx --config=<client> workflow run F` (checked by rnx first; valid ones go to the daemon). */
export async function fuzzWorkflowFiles(o: { cli: Cli; clientConfig: string; dir: string; seed: number; count: number }): Promise<YamlFuzzReport> {
  const { mkdirSync, writeFileSync } = await import("node:fs");
  const report = newYamlReport();
  const t0 = performance.now();
  await pool(
    Array.from({ length: o.count }, (_, i) => i),
    cliConcurrency(o.cli),
    async (i) => {
      const rng = new Rng(mix(o.seed ^ 0x3f10, i));
      const w = workflowYaml(rng);
      const sub = join(o.dir, `workflow-${i}`);
      mkdirSync(sub, { recursive: true });
      const file = join(sub, "fuzz.yaml");
      writeFileSync(file, w.text);
      const r = await runCli(o.cli, ["--config", o.clientConfig, "workflow", "run", file]);
      report.sent++;
      count(report, r.code === 0 ? "submitted" : r.stderr.includes("INVALID_ARGUMENT") ? "refused by the server" : r.code === 1 ? "refused by rnx" : `exit ${r.code}`);
      const problem = judgeWorkflowRun(r);
      if (problem) report.failures.push({ index: i, what: w.what, problem, file });
    },
  );
  report.elapsedMs = performance.now() - t0;
  return report;
}

/** `count` workflow YAMLs straight to RunWorkflow (no client-side check): the server's own answers. */
export async function fuzzRunWorkflow(o: { address: string; ca: string; cert: { cert: string; key: string }; seed: number; count: number; concurrency?: number }): Promise<YamlFuzzReport> {
  const grpc = await import("@grpc/grpc-js");
  const { WorkflowServiceClient } = await import("../../src/gen/joblet");
  const client = new WorkflowServiceClient(o.address, grpc.credentials.createSsl(Buffer.from(o.ca), Buffer.from(o.cert.key), Buffer.from(o.cert.cert)), {
    "grpc.ssl_target_name_override": "joblet",
    "grpc.max_send_message_length": 256 * MB,
  });
  const report = newYamlReport();
  const t0 = performance.now();
  try {
    await pool(
      Array.from({ length: o.count }, (_, i) => i),
      o.concurrency ?? 8,
      async (i) => {
        const rng = new Rng(mix(o.seed ^ 0x77f1, i));
        const w = workflowYaml(rng);
        const { code, details } = await new Promise<{ code: number; details: string }>((resolve) =>
          client.runWorkflow({ workflow: "fuzz.yaml", totalJobs: 0, jobOrder: [], yamlContent: w.text, workflowFiles: [] }, new grpc.Metadata(), { deadline: Date.now() + 60_000 }, (e) =>
            resolve(e ? { code: e.code, details: e.details ?? "" } : { code: 0, details: "" }),
          ),
        );
        report.sent++;
        count(report, Status[code] ?? String(code));
        const problem = judgeRunWorkflow(code, details);
        if (problem) report.failures.push({ index: i, what: w.what, problem });
      },
    );
  } finally {
    client.close();
  }
  report.elapsedMs = performance.now() - t0;
  return report;
}
