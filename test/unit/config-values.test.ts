// Leaf value parsers of the configuration files (src/config/values.ts): what each accepts, what it
// turns the value into, and how a rejected value is shown in the error message.
import { describe, expect, test } from "bun:test";
import type { z } from "zod";
import {
  absolutePath,
  bool,
  cidr,
  duration,
  host,
  hostPort,
  int,
  isHost,
  isIPv4,
  list,
  mapOf,
  nonEmptyStr,
  nonNegativeInt,
  oneOf,
  parseDuration,
  parseHostPort,
  parseSize,
  port,
  positiveInt,
  section,
  show,
  size,
  str,
} from "../../src/config/values";

/** The one message a schema gives for `v`, or undefined when it accepts it. */
function messageOf(schema: z.ZodType, v: unknown): string | undefined {
  const r = schema.safeParse(v);
  return r.success ? undefined : r.error.issues.map((i) => i.message).join("; ");
}
function valueOf(schema: z.ZodType, v: unknown): unknown {
  const r = schema.safeParse(v);
  if (!r.success) throw new Error(`rejected ${show(v)}: ${r.error.issues[0]?.message}`);
  return r.data;
}

describe("parseDuration (Go-style, to milliseconds)", () => {
  test.each([
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["0", 0],
    ["0s", 0],
    ["30s", 30_000],
    ["5m", 300_000],
    ["24h", 86_400_000],
    ["1.5h", 5_400_000],
    ["2h45m30s", 9_930_000],
    ["1m30s500ms", 90_500],
    ["1500us", 2], // 1.5 ms, rounded
    ["1500µs", 2],
    ["3000000ns", 3],
    [" 10s ", 10_000], // surrounding blanks are trimmed
  ] as const)("%p is %p ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  test.each([
    ["5"], // a bare number needs a unit (only "0" may go without)
    ["1x"],
    [""],
    ["   "],
    ["h"],
    ["1h 30m"], // no blanks inside
    ["-1s"],
    ["+1s"],
    [".5s"],
    ["1.s"],
    ["1H"], // units are lower case, as in Go
    ["1d"], // Go has no days
    ["ms"],
    ["1s!"],
    ["x1s"],
  ] as const)("%p is rejected", (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });

  test("numbers and other non-strings are rejected (0 too: write \"0\")", () => {
    for (const v of [0, 5, 1.5, 30000, true, null, undefined, ["1s"], { h: 1 }]) expect(parseDuration(v)).toBeUndefined();
  });

  test("the duration() leaf returns milliseconds and explains the accepted form", () => {
    expect(valueOf(duration(), "1h30m")).toBe(5_400_000);
    expect(messageOf(duration(), "1x")).toBe('expected a duration such as "500ms", "30s", "5m" or "1h30m", got "1x"');
    expect(messageOf(duration(), 30)).toBe('expected a duration such as "500ms", "30s", "5m" or "1h30m", got 30');
    expect(messageOf(duration('a timeout such as "5s"'), "")).toBe('expected a timeout such as "5s", got ""');
  });
});

describe("parseSize (units are powers of 1024)", () => {
  test.each([
    ["512MB", 512 * 1024 ** 2],
    ["1.5GB", 1.5 * 1024 ** 3],
    ["1GB", 1024 ** 3],
    ["100GB", 100 * 1024 ** 3],
    ["1TB", 1024 ** 4],
    ["1KB", 1024],
    ["1kb", 1024], // case does not matter
    ["1 KB", 1024],
    ["1K", 1024], // single-letter units
    [" 2g ", 2 * 1024 ** 3],
    ["10M", 10 * 1024 ** 2],
    ["100", 100], // a string of digits is bytes
    ["100B", 100],
    ["0", 0],
  ] as const)("%p is %p bytes", (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  test("a non-negative integer is a byte count", () => {
    expect(parseSize(0)).toBe(0);
    expect(parseSize(104857600)).toBe(104857600);
  });

  test.each([["1KiB"], [""], ["-1"], ["-1MB"], ["MB"], ["1 MB B"], ["1PB"], ["1.5.1GB"], ["one GB"]] as const)("%p is rejected", (input) => {
    expect(parseSize(input)).toBeUndefined();
  });

  test("negative, fractional and non-numeric values are rejected", () => {
    for (const v of [-1, 1.5, Number.NaN, Infinity, true, null, undefined, [], {}]) expect(parseSize(v)).toBeUndefined();
  });

  test("the size() leaf returns bytes and explains the accepted form", () => {
    expect(valueOf(size(), "1TB")).toBe(1024 ** 4);
    expect(messageOf(size(), "big")).toBe('expected a size such as "512MB", "1GB" or a byte count, got "big"');
    expect(messageOf(size(), -5)).toBe('expected a size such as "512MB", "1GB" or a byte count, got -5');
  });
});

describe("host:port", () => {
  test.each([
    ["127.0.0.1:9090", "127.0.0.1", 9090],
    ["localhost:50051", "localhost", 50051],
    ["prod.joblet.company.com:50051", "prod.joblet.company.com", 50051],
    ["joblet-server:50051", "joblet-server", 50051],
    ["[::1]:80", "::1", 80],
    ["[fe80::1]:443", "fe80::1", 443],
    ["1.2.3.4:65535", "1.2.3.4", 65535],
    ["host:1", "host", 1],
  ] as const)("%p is host %p, port %p", (input, h, p) => {
    expect(parseHostPort(input)).toEqual({ host: h, port: p });
  });

  test.each([
    ["::1:80"], // IPv6 needs brackets
    ["[::1]"],
    ["localhost"],
    ["9090"],
    [":80"],
    ["host:"],
    ["host:0"],
    ["host:65536"],
    ["host:123456"],
    ["host:-1"],
    ["a b:1"],
    ["under_score:80"],
    ["-bad:80"],
    [""],
  ] as const)("%p is rejected", (input) => {
    expect(parseHostPort(input)).toBeUndefined();
  });

  test("non-strings are rejected", () => {
    for (const v of [9090, null, undefined, { host: "a", port: 1 }]) expect(parseHostPort(v)).toBeUndefined();
  });

  test("the hostPort() leaf keeps the string and explains the form", () => {
    expect(valueOf(hostPort(), "[::1]:9090")).toBe("[::1]:9090");
    expect(messageOf(hostPort(), "9090")).toBe('expected "host:port", e.g. "127.0.0.1:9090", got "9090"');
    expect(messageOf(hostPort(), 9090)).toBe('expected "host:port", e.g. "127.0.0.1:9090", got 9090');
  });
});

describe("hosts and IPv4", () => {
  test("IPv4 addresses", () => {
    for (const ip of ["0.0.0.0", "127.0.0.1", "255.255.255.255", "172.20.0.1", "8.8.8.8"]) expect(isIPv4(ip)).toBe(true);
    for (const ip of ["256.0.0.1", "1.2.3", "1.2.3.4.5", "1.2.3.-4", "a.b.c.d", "1..2.3", ""]) expect(isIPv4(ip)).toBe(false);
  });

  test("host names, IPv4 and IPv6 addresses are hosts", () => {
    for (const h of ["0.0.0.0", "localhost", "joblet-server", "a.b.example.com", "::1", "fe80::1", "2001:db8::8a2e:370:7334"]) {
      expect({ h, ok: isHost(h) }).toEqual({ h, ok: true });
    }
  });

  test("malformed names are not hosts", () => {
    for (const h of ["", "-a", "a-", "a..b", "a b", "under_score", "a/b", "x".repeat(64), "ex!mple.com"]) {
      expect({ h, ok: isHost(h) }).toEqual({ h, ok: false });
    }
  });

  // RFC 1123 §2.1: a host name never has the dotted-decimal form #.#.#.#, so "300.1.1.1" is
  // a bad IPv4 address, not a name; ":" and ":::" are not IPv6 addresses either.
  test("malformed IPv4 and IPv6 addresses are not hosts", () => {
    for (const h of ["300.1.1.1", "1.2.3.256", ":", ":::"]) {
      expect({ h, ok: isHost(h) }).toEqual({ h, ok: false });
    }
    expect(parseHostPort("300.1.1.1:80")).toBeUndefined();
  });

  test("the host() leaf explains the form", () => {
    expect(valueOf(host(), "0.0.0.0")).toBe("0.0.0.0");
    expect(messageOf(host(), "a b")).toBe('expected an IP address or host name, got "a b"');
    expect(messageOf(host(), 8080)).toBe("expected an IP address or host name, got 8080");
  });
});

describe("cidr", () => {
  test.each([["172.20.0.0/16"], ["10.0.0.0/8"], ["0.0.0.0/0"], ["192.168.1.7/32"]] as const)("%p is accepted", (c) => {
    expect(valueOf(cidr(), c)).toBe(c);
  });
  test.each([["172.20.0.0"], ["172.20.0.0/"], ["172.20.0.0/33"], ["172.20.0.0/123"], ["1.2.3.4/16/1"], ["256.1.1.1/8"], ["::1/64"], ["/16"], ["172.20.0.0/a"]] as const)(
    "%p is rejected",
    (c) => {
      expect(messageOf(cidr(), c)).toBe(`expected an IPv4 CIDR such as "172.20.0.0/16", got ${JSON.stringify(c)}`);
    },
  );
  test("a number is rejected", () => {
    expect(messageOf(cidr(), 16)).toBe('expected an IPv4 CIDR such as "172.20.0.0/16", got 16');
  });
});

describe("numbers, ports, enums and strings", () => {
  test("port() accepts 1-65535 integers only", () => {
    expect(valueOf(port(), 1)).toBe(1);
    expect(valueOf(port(), 65535)).toBe(65535);
    for (const v of [0, 65536, 99999, -1, 80.5, "80", null]) expect(messageOf(port(), v)).toBe(`expected a port number 1-65535, got ${show(v)}`);
  });

  test("positiveInt() and nonNegativeInt()", () => {
    expect(valueOf(positiveInt(), 1)).toBe(1);
    expect(messageOf(positiveInt(), 0)).toBe("expected a positive integer, got 0");
    expect(messageOf(positiveInt(), "abc")).toBe('expected a positive integer, got "abc"');
    expect(messageOf(positiveInt(), "5")).toBe('expected a positive integer, got "5"');
    expect(messageOf(positiveInt(), 2 ** 60)).toBe(`expected a positive integer, got ${2 ** 60}`);
    expect(valueOf(nonNegativeInt(), 0)).toBe(0);
    expect(messageOf(nonNegativeInt(), -1)).toBe("expected a non-negative integer (0 = unlimited), got -1");
  });

  test("int() bounds are inclusive", () => {
    const s = int(1, 25, "a batch size 1-25");
    expect(valueOf(s, 1)).toBe(1);
    expect(valueOf(s, 25)).toBe(25);
    expect(messageOf(s, 26)).toBe("expected a batch size 1-25, got 26");
  });

  test("oneOf() lists the choices", () => {
    const s = oneOf(["debug", "info"] as const);
    expect(valueOf(s, "info")).toBe("info");
    expect(messageOf(s, "loud")).toBe('expected one of "debug", "info", got "loud"');
    expect(messageOf(s, "INFO")).toBe('expected one of "debug", "info", got "INFO"');
  });

  test("bool() accepts only real booleans", () => {
    expect(valueOf(bool(), false)).toBe(false);
    for (const v of ["true", "yes", 1, 0, null]) expect(messageOf(bool(), v)).toBe(`expected true or false, got ${show(v)}`);
  });

  test("strings, non-empty strings and absolute paths", () => {
    expect(valueOf(str(), "")).toBe("");
    expect(messageOf(str(), 5)).toBe("expected a string, got 5");
    expect(messageOf(nonEmptyStr(), "  ")).toBe('expected a non-empty string, got "  "');
    expect(valueOf(absolutePath(), "/opt/joblet")).toBe("/opt/joblet");
    expect(messageOf(absolutePath(), "opt/joblet")).toBe('expected an absolute path, got "opt/joblet"');
    expect(messageOf(absolutePath(), "/a\0b")).toBe(`expected an absolute path, got ${JSON.stringify("/a\0b")}`);
  });

  test("a missing required leaf says it got nothing", () => {
    expect(messageOf(port(), undefined)).toBe("expected a port number 1-65535, got nothing");
  });
});

describe("containers", () => {
  test("list(), section() and mapOf() name the container they expected", () => {
    expect(messageOf(list(port()), "80")).toBe('expected a list, got "80"');
    expect(messageOf(section({ a: port() }), [1])).toBe("expected a mapping of settings, got a list");
    expect(messageOf(mapOf(port()), 5)).toBe("expected a mapping, got 5");
  });
  test("section() rejects unknown keys with an unrecognized_keys issue (reported as warnings)", () => {
    const r = section({ a: port() }).safeParse({ a: 1, b: 2 });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => [i.code, (i as { keys?: string[] }).keys])).toEqual([["unrecognized_keys", ["b"]]]);
  });
});

describe("show()", () => {
  test.each([
    [undefined, "nothing"],
    ["abc", '"abc"'],
    ["", '""'],
    ['say "hi"', '"say \\"hi\\""'],
    [null, "null (an empty value)"],
    [[1, 2], "a list"],
    [[], "a list"],
    [{ a: 1 }, "a mapping"],
    [42, "42"],
    [1.5, "1.5"],
    [true, "true"],
    [false, "false"],
  ] as const)("%p is shown as %p", (v, shown) => {
    expect(show(v)).toBe(shown);
  });
});
