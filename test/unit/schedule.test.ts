// --schedule on the client (delay or absolute time to RFC 3339) and RFC 3339 on the server.
// Tests that depend on the local zone set TZ for their own duration (Bun applies a TZ change at
// once, checked below) and put it back, so other test files in the same run are not affected.
import { describe, expect, test } from "bun:test";
import { formatRfc3339, parseRfc3339, parseScheduleSpec, ScheduleError } from "../../src/config/schedule";
import { inZone } from "../helpers/zone";

function refusal(spec: string): string {
  try {
    parseScheduleSpec(spec, NOW);
  } catch (e) {
    expect(e).toBeInstanceOf(ScheduleError);
    expect((e as Error).name).toBe("ScheduleError");
    return (e as Error).message;
  }
  throw new Error(`${JSON.stringify(spec)} was accepted`);
}

// 07:30:00.250 in Berlin (winter, +01:00); the fraction must not show in the output.
const NOW = new Date("2026-11-28T06:30:00.250Z");

test("setting TZ takes effect at once", () => {
  const instant = new Date("2026-01-01T00:00:00Z");
  expect(inZone("Europe/Berlin", () => instant.getTimezoneOffset())).toBe(-60);
  expect(inZone("America/New_York", () => instant.getTimezoneOffset())).toBe(300);
  expect(inZone("UTC", () => instant.getTimezoneOffset())).toBe(0);
});

describe("formatRfc3339", () => {
  test.each([
    ["UTC", "2026-11-28T06:30:00.999Z", "2026-11-28T06:30:00Z"],
    ["Europe/Berlin", "2026-11-28T06:30:00Z", "2026-11-28T07:30:00+01:00"],
    ["Europe/Berlin", "2026-07-01T06:30:00Z", "2026-07-01T08:30:00+02:00"],
    ["America/New_York", "2026-11-28T06:30:59.5Z", "2026-11-28T01:30:59-05:00"],
    ["Asia/Kolkata", "2026-11-28T06:30:00Z", "2026-11-28T12:00:00+05:30"],
    ["America/St_Johns", "2026-11-28T06:30:00Z", "2026-11-28T03:00:00-03:30"],
    ["UTC", "0099-01-01T12:00:00Z", "0099-01-01T12:00:00Z"],
  ])("%s: %s -> %s", (tz, iso, want) => {
    expect(inZone(tz, () => formatRfc3339(new Date(iso)))).toBe(want);
  });

  test("an invalid date is a programming error", () => {
    expect(() => formatRfc3339(new Date(NaN))).toThrow(RangeError);
  });
});

describe("parseScheduleSpec: delays", () => {
  test.each([
    ["1s", "2026-11-28T07:30:01+01:00"],
    ["30s", "2026-11-28T07:30:30+01:00"],
    ["45sec", "2026-11-28T07:30:45+01:00"],
    ["2secs", "2026-11-28T07:30:02+01:00"],
    ["1second", "2026-11-28T07:30:01+01:00"],
    ["90seconds", "2026-11-28T07:31:30+01:00"],
    ["5m", "2026-11-28T07:35:00+01:00"],
    ["5min", "2026-11-28T07:35:00+01:00"],
    ["5mins", "2026-11-28T07:35:00+01:00"],
    ["1minute", "2026-11-28T07:31:00+01:00"],
    ["90minutes", "2026-11-28T09:00:00+01:00"],
    ["1h", "2026-11-28T08:30:00+01:00"],
    ["1hour", "2026-11-28T08:30:00+01:00"],
    ["3hours", "2026-11-28T10:30:00+01:00"],
    ["2h30m", "2026-11-28T10:00:00+01:00"],
    ["1h30m15s", "2026-11-28T09:00:15+01:00"],
    ["1hour30minutes", "2026-11-28T09:00:00+01:00"],
    ["0h1s", "2026-11-28T07:30:01+01:00"],
    ["  5min\n", "2026-11-28T07:35:00+01:00"],
    // Go's client lowercases and drops spaces before matching.
    ["2h 30m", "2026-11-28T10:00:00+01:00"],
    ["5 MIN", "2026-11-28T07:35:00+01:00"],
    // Up to a year; crossing into summer time changes the offset shown.
    ["8760h", "2027-11-28T07:30:00+01:00"],
    ["525600min", "2027-11-28T07:30:00+01:00"],
    ["4000h", "2027-05-14T00:30:00+02:00"],
  ])("%j in Berlin", (spec, want) => {
    expect(inZone("Europe/Berlin", () => parseScheduleSpec(spec, NOW))).toBe(want);
  });

  test("in UTC the offset is written Z", () => {
    expect(inZone("UTC", () => parseScheduleSpec("2h30m", NOW))).toBe("2026-11-28T09:00:00Z");
  });

  test("now defaults to the current time", () => {
    const before = Date.now();
    const at = parseRfc3339(parseScheduleSpec("1h"))!.getTime();
    expect(at).toBeGreaterThanOrEqual(Math.floor((before + 3_600_000) / 1000) * 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 3_600_000);
  });

  test.each(["0s", "0h0m0s", "0min", "8760h1s", "8784h", "8784hours", "31536001s", "99999999999999999999s"])(
    "%j is out of range",
    (spec) => {
      expect(refusal(spec)).toBe(`--schedule: ${JSON.stringify(spec)} is out of range; a delay must be 1 s to 1 year (365 days)`);
    },
  );

  test.each(["tomorrow", "now", "5", "5d", "5days", "h", "m5", "-5m", "+5m", "5m-", "1.5h", "5 minutes ago", "2h30", "2026-11-28", "15:04", "1w"])(
    "%j is not a time",
    (spec) => {
      expect(refusal(spec)).toBe(
        `--schedule: ${JSON.stringify(spec)} is not a time; use a delay such as "30s", "5min", "2h30m" (1 s to 1 year) or a time such as "2026-11-28T15:04:05Z" or "2026-11-28 15:04"`,
      );
    },
  );

  test.each(["", "   ", "\t\n"])("%j: nothing given", (spec) => {
    expect(refusal(spec)).toStartWith("--schedule: nothing given; use a delay such as");
  });
});

describe("parseScheduleSpec: absolute times", () => {
  test.each([
    // RFC 3339 with a zone: the same instant, shown in the local zone.
    ["Europe/Berlin", "2026-11-28T15:04:05Z", "2026-11-28T16:04:05+01:00"],
    ["UTC", "2026-11-28T15:04:05Z", "2026-11-28T15:04:05Z"],
    ["UTC", "2026-11-28T15:04:05+02:00", "2026-11-28T13:04:05Z"],
    ["UTC", "2026-11-28T15:04:05-05:30", "2026-11-28T20:34:05Z"],
    ["Europe/Berlin", "2026-07-01T15:04:05+02:00", "2026-07-01T15:04:05+02:00"],
    ["UTC", "2026-11-28T15:04:05.999999999Z", "2026-11-28T15:04:05Z"],
    ["UTC", "2026-11-28T15:04:05.5+01:00", "2026-11-28T14:04:05Z"],
    // Zone-less: the client's local time.
    ["Europe/Berlin", "2026-11-28T15:04:05", "2026-11-28T15:04:05+01:00"],
    ["Europe/Berlin", "2026-11-28 15:04:05", "2026-11-28T15:04:05+01:00"],
    ["Europe/Berlin", "2026-11-28T15:04", "2026-11-28T15:04:00+01:00"],
    ["Europe/Berlin", "2026-07-01 15:04", "2026-07-01T15:04:00+02:00"],
    ["America/New_York", "2026-11-28 15:04", "2026-11-28T15:04:00-05:00"],
    ["UTC", "2026-11-28 15:04", "2026-11-28T15:04:00Z"],
    ["Europe/Berlin", "2026-11-28 15:04:05.75", "2026-11-28T15:04:05+01:00"],
    ["Europe/Berlin", " 2026-11-28 15:04 ", "2026-11-28T15:04:00+01:00"],
    // A wall time skipped by DST moves forward; a repeated one is its first pass.
    ["Europe/Berlin", "2026-03-29 02:30", "2026-03-29T03:30:00+02:00"],
    ["Europe/Berlin", "2026-10-25 02:30", "2026-10-25T02:30:00+02:00"],
    ["UTC", "2028-02-29 12:00", "2028-02-29T12:00:00Z"],
    ["UTC", "2000-02-29 12:00", "2000-02-29T12:00:00Z"],
    ["UTC", "2026-12-31 23:59:60", "2026-12-31T23:59:59Z"],
    // Past times are passed on; the server decides what to do with them.
    ["UTC", "2020-01-01 00:00", "2020-01-01T00:00:00Z"],
  ])("%s: %j -> %s", (tz, spec, want) => {
    expect(inZone(tz, () => parseScheduleSpec(spec, NOW))).toBe(want);
  });

  test("zone-less is local time in whatever zone this machine has", () => {
    expect(parseScheduleSpec("2026-11-28 15:04", NOW)).toBe(formatRfc3339(new Date(2026, 10, 28, 15, 4)));
    expect(parseScheduleSpec("2026-07-01T03:02:01", NOW)).toBe(formatRfc3339(new Date(2026, 6, 1, 3, 2, 1)));
  });

  test.each(["2026-11-28T15:04:05Z", "2026-11-28T15:04:05+02:00", "2026-11-28 15:04", "2h30m", "1s"])("%j round-trips through parseRfc3339", (spec) => {
    for (const tz of ["UTC", "Europe/Berlin", "America/New_York"]) {
      inZone(tz, () => {
        const out = parseScheduleSpec(spec, NOW);
        expect(formatRfc3339(parseRfc3339(out)!)).toBe(out);
      });
    }
  });

  test("an instant with a zone is kept exactly (to the second)", () => {
    const out = inZone("Asia/Kolkata", () => parseScheduleSpec("2026-11-28T15:04:05Z", NOW));
    expect(out).toBe("2026-11-28T20:34:05+05:30");
    expect(parseRfc3339(out)!.toISOString()).toBe("2026-11-28T15:04:05.000Z");
  });

  test.each([
    ["2026-02-30 10:00", "day 30 is out of range 1-28 for 2026-02"],
    ["2026-02-29T10:00:00Z", "day 29 is out of range 1-28 for 2026-02"],
    ["1900-02-29 10:00", "day 29 is out of range 1-28 for 1900-02"],
    ["2026-04-31 10:00", "day 31 is out of range 1-30 for 2026-04"],
    ["2026-11-00 10:00", "day 0 is out of range 1-30 for 2026-11"],
    ["2026-13-01 10:00", "month 13 is out of range 1-12"],
    ["2026-00-01T10:00:00Z", "month 0 is out of range 1-12"],
    ["2026-11-28 25:00", "hour 25 is out of range 0-23"],
    ["2026-11-28T24:00:00Z", "hour 24 is out of range 0-23"],
    ["2026-11-28 15:60", "minute 60 is out of range 0-59"],
    ["2026-11-28 15:04:61", "second 61 is out of range 0-60"],
  ])("%j is not a real date and time", (spec, why) => {
    expect(refusal(spec)).toBe(`--schedule: ${JSON.stringify(spec)} is not a real date and time: ${why}`);
  });

  test.each(["2026-11-28T15:04:05+24:00", "2026-11-28T15:04:05-02:60"])("%j has an impossible offset", (spec) => {
    expect(refusal(spec)).toBe(`--schedule: ${JSON.stringify(spec)} has a zone offset out of range (hours 0-23, minutes 0-59)`);
  });

  test.each(["2026-11-28T15:04:05+0200", "2026-11-28 15:04:05Z", "2026-11-28t15:04", "2026-11-28T15", "2026-1-28 15:04", "26-11-28 15:04", "2026-11-28  15:04", "2026/11/28 15:04"])(
    "%j is not a time",
    (spec) => {
      expect(refusal(spec)).toContain("is not a time; use a delay");
    },
  );
});

describe("parseRfc3339", () => {
  test.each([
    ["2026-11-28T15:04:05Z", "2026-11-28T15:04:05.000Z"],
    ["2026-11-28t15:04:05z", "2026-11-28T15:04:05.000Z"],
    ["2026-11-28T15:04:05+02:00", "2026-11-28T13:04:05.000Z"],
    ["2026-11-28T15:04:05-05:30", "2026-11-28T20:34:05.000Z"],
    ["2026-11-28T15:04:05+23:59", "2026-11-27T15:05:05.000Z"],
    ["2026-11-28T15:04:05-00:00", "2026-11-28T15:04:05.000Z"],
    ["2026-11-28T15:04:05.5Z", "2026-11-28T15:04:05.500Z"],
    ["2026-11-28T15:04:05.123456789Z", "2026-11-28T15:04:05.123Z"],
    ["2026-11-28T15:04:05.9999Z", "2026-11-28T15:04:05.999Z"],
    ["2028-02-29T00:00:00Z", "2028-02-29T00:00:00.000Z"],
    ["2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000Z"],
    ["2026-12-31T23:59:60Z", "2026-12-31T23:59:59.000Z"],
    ["2026-01-31T00:00:00Z", "2026-01-31T00:00:00.000Z"],
    ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"],
    ["0099-06-15T12:00:00+01:00", "0099-06-15T11:00:00.000Z"],
  ])("%s -> %s", (s, iso) => {
    for (const tz of ["UTC", "Europe/Berlin"]) expect(inZone(tz, () => parseRfc3339(s)?.toISOString())).toBe(iso);
  });

  test.each([
    "2026-11-28 15:04:05",
    "2026-11-28T15:04:05",
    "2026-11-28 15:04:05Z",
    "2026-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-13-10T00:00:00Z",
    "2026-11-00T00:00:00Z",
    "2026-11-28T24:00:00Z",
    "2026-11-28T15:60:00Z",
    "2026-11-28T15:04:61Z",
    "2026-11-28T15:04:05+24:00",
    "2026-11-28T15:04:05+02:60",
    "2026-11-28T15:04:05+0200",
    "2026-11-28T15:04:05+02",
    "2026-11-28T15:04Z",
    "2026-11-28T15:04:05.Z",
    "2026-11-28T15:04:05ZZ",
    " 2026-11-28T15:04:05Z",
    "2026-11-28T15:04:05Z ",
    "2026-1-28T15:04:05Z",
    "+2026-11-28T15:04:05Z",
    "30s",
    "",
  ])("%j is refused", (s) => {
    expect(parseRfc3339(s)).toBeUndefined();
  });
});
