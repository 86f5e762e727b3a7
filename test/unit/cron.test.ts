// Cron expressions: parsing, Vixie day rules, next() in the local zone across DST changes.
// Each test sets TZ for its own duration (Bun applies a TZ change at once, checked below) and
// puts it back, so other test files in the same run are not affected.
import { describe, expect, test } from "bun:test";
import { CronError, parseCron } from "../../src/config/cron";
import { inZone } from "../helpers/zone";

/** next(after) as an ISO instant, or undefined. */
const nextOf = (expr: string, after: string, tz = "UTC") => inZone(tz, () => parseCron(expr).next(new Date(after))?.toISOString());
const iso = (s: string) => new Date(s).toISOString();

/** The first n runs after `after`. */
function runs(expr: string, after: string, n: number, tz = "UTC"): string[] {
  return inZone(tz, () => {
    const cron = parseCron(expr);
    const out: string[] = [];
    let t: Date | undefined = new Date(after);
    for (let i = 0; i < n && t; i++) {
      t = cron.next(t);
      if (t) out.push(t.toISOString());
    }
    return out;
  });
}

function refusal(expr: string): string {
  try {
    parseCron(expr);
  } catch (e) {
    expect(e).toBeInstanceOf(CronError);
    expect((e as Error).name).toBe("CronError");
    return (e as Error).message;
  }
  throw new Error(`${JSON.stringify(expr)} was accepted`);
}

test("setting TZ takes effect at once", () => {
  const instant = new Date("2026-07-01T00:00:00Z");
  expect(inZone("Europe/Berlin", () => instant.getHours())).toBe(2);
  expect(inZone("UTC", () => instant.getHours())).toBe(0);
});

describe("next in UTC", () => {
  // 2026-11-27 is a Friday, 2026-11-28 a Saturday.
  test.each([
    ["* * * * *", "2026-11-28T10:04:59Z", "2026-11-28T10:05:00Z"],
    ["* * * * *", "2026-11-28T10:05:00Z", "2026-11-28T10:06:00Z"],
    ["*/5 * * * *", "2026-11-28T10:02:30Z", "2026-11-28T10:05:00Z"],
    ["*/5 * * * *", "2026-11-28T10:05:00Z", "2026-11-28T10:10:00Z"],
    ["*/5 * * * *", "2026-11-28T10:04:59.999Z", "2026-11-28T10:05:00Z"],
    ["*/5 * * * *", "2026-11-28T23:58:00Z", "2026-11-29T00:00:00Z"],
    ["0 9 * * MON-FRI", "2026-11-27T09:00:00Z", "2026-11-30T09:00:00Z"],
    ["0 9 * * mon-fri", "2026-11-30T08:59:59Z", "2026-11-30T09:00:00Z"],
    ["0 9 * * 1-5", "2026-11-27T08:00:00Z", "2026-11-27T09:00:00Z"],
    ["@daily", "2026-11-28T10:00:00Z", "2026-11-29T00:00:00Z"],
    ["@midnight", "2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z"],
    ["@DAILY", "2026-11-28T10:00:00Z", "2026-11-29T00:00:00Z"],
    ["@hourly", "2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z"],
    ["@weekly", "2026-11-28T10:00:00Z", "2026-11-29T00:00:00Z"],
    ["@monthly", "2026-11-28T10:00:00Z", "2026-12-01T00:00:00Z"],
    ["@yearly", "2026-11-28T10:00:00Z", "2027-01-01T00:00:00Z"],
    ["@annually", "2026-11-28T10:00:00Z", "2027-01-01T00:00:00Z"],
    ["0 0 * * *", "2026-12-31T23:59:30Z", "2027-01-01T00:00:00Z"],
    ["0 0 * * 0", "2026-11-28T10:00:00Z", "2026-11-29T00:00:00Z"],
    ["0 0 * * 7", "2026-11-28T10:00:00Z", "2026-11-29T00:00:00Z"],
    ["0 0 * * SUN", "2026-11-28T10:00:00Z", "2026-11-29T00:00:00Z"],
    ["0 0 * * 5-7", "2026-11-28T10:00:00Z", "2026-11-29T00:00:00Z"],
    ["0 0 * * FRI-SAT", "2026-11-28T10:00:00Z", "2026-12-04T00:00:00Z"],
    ["30 14 * JAN,jul *", "2026-11-28T10:00:00Z", "2027-01-01T14:30:00Z"],
    ["30 14 * 7 *", "2026-11-28T10:00:00Z", "2027-07-01T14:30:00Z"],
    ["15 10 1/10 * *", "2026-11-21T10:15:00Z", "2026-12-01T10:15:00Z"],
    ["0 12-18/3 * * *", "2026-11-28T12:00:00Z", "2026-11-28T15:00:00Z"],
    ["0 12-18/3 * * *", "2026-11-28T15:00:00Z", "2026-11-28T18:00:00Z"],
    ["0 12-18/3 * * *", "2026-11-28T18:00:00Z", "2026-11-29T12:00:00Z"],
    ["5,10-12 * * * *", "2026-11-28T10:05:00Z", "2026-11-28T10:10:00Z"],
    ["5,10-12 * * * *", "2026-11-28T10:12:00Z", "2026-11-28T11:05:00Z"],
    ["*/90 * * * *", "2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z"],
    ["0 0 31 * *", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z"],
    ["0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"],
    ["59 23 31 12 *", "2026-01-01T00:00:00Z", "2026-12-31T23:59:00Z"],
    // Vixie: both day fields restricted, so a day matches when either does.
    ["0 0 1 * MON", "2026-11-28T10:00:00Z", "2026-11-30T00:00:00Z"],
    ["0 0 1 * MON", "2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z"],
    // Vixie: a day field starting with "*" is unrestricted, so both must match (odd day and Monday).
    ["0 0 */2 * 1", "2026-11-28T10:00:00Z", "2026-12-07T00:00:00Z"],
  ])("%j after %s -> %s", (expr, after, want) => {
    expect(nextOf(expr, after)).toBe(iso(want));
  });

  test("0 0 1,15 * 5: the 1st, the 15th and every Friday", () => {
    expect(runs("0 0 1,15 * 5", "2026-11-28T00:00:00Z", 5)).toEqual(
      ["2026-12-01", "2026-12-04", "2026-12-11", "2026-12-15", "2026-12-18"].map((d) => iso(`${d}T00:00:00Z`)),
    );
  });

  test.each(["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 *"])("%j never happens: undefined", (expr) => {
    expect(nextOf(expr, "2026-11-28T10:00:00Z")).toBeUndefined();
  });

  test("undefined for an invalid date", () => {
    expect(parseCron("* * * * *").next(new Date(NaN))).toBeUndefined();
  });

  test("a search that finds nothing in 5 years is quick", () => {
    const started = performance.now();
    for (let i = 0; i < 20; i++) expect(nextOf("59 23 30 2 *", "2026-01-01T00:00:00Z")).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test("runs are strictly increasing whole minutes", () => {
    const out = runs("*/7 3-5 * * *", "2026-11-28T05:50:10.5Z", 6);
    expect(out).toEqual(
      ["05:56", "03:00", "03:07", "03:14", "03:21", "03:28"].map((hm, i) => iso(`2026-11-${i === 0 ? 28 : 29}T${hm}:00Z`)),
    );
  });
});

describe("next in the local zone (Europe/Berlin)", () => {
  test.each([
    // The local hour, not UTC's: 09:00 Berlin is 08:00Z in winter, 07:00Z in summer.
    ["0 9 * * *", "2026-11-28T12:00:00Z", "2026-11-29T09:00:00+01:00"],
    ["0 9 * * *", "2026-07-01T12:00:00Z", "2026-07-02T09:00:00+02:00"],
    // 2026-03-29 02:00-02:59 does not exist (clocks go from 02:00 to 03:00): that day is skipped.
    ["30 2 * * *", "2026-03-28T12:00:00+01:00", "2026-03-30T02:30:00+02:00"],
    ["0 2 29 3 *", "2026-03-01T00:00:00+01:00", "2027-03-29T02:00:00+02:00"],
    ["*/30 * * * *", "2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00"],
    ["0 3 * * *", "2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"],
    // 2026-10-25 02:00-02:59 happens twice (03:00 CEST becomes 02:00 CET).
    ["30 2 * * *", "2026-10-24T12:00:00+02:00", "2026-10-25T02:30:00+02:00"],
    ["@daily", "2026-10-24T12:00:00+02:00", "2026-10-25T00:00:00+02:00"],
    ["0 3 * * *", "2026-10-25T02:30:00+01:00", "2026-10-25T03:00:00+01:00"],
    // From inside the second pass, the next minute is the next minute, not an hour back.
    ["* * * * *", "2026-10-25T02:10:30+01:00", "2026-10-25T02:11:00+01:00"],
  ])("%j after %s -> %s", (expr, after, want) => {
    expect(nextOf(expr, after, "Europe/Berlin")).toBe(iso(want));
  });

  test("a fixed-time job runs once in the repeated hour", () => {
    expect(runs("30 2 * * *", "2026-10-24T12:00:00+02:00", 2, "Europe/Berlin")).toEqual([
      iso("2026-10-25T02:30:00+02:00"),
      iso("2026-10-26T02:30:00+01:00"),
    ]);
  });

  test("an interval job keeps running through the repeated hour", () => {
    expect(runs("*/30 * * * *", "2026-10-25T01:45:00+02:00", 5, "Europe/Berlin")).toEqual(
      ["02:00:00+02:00", "02:30:00+02:00", "02:00:00+01:00", "02:30:00+01:00", "03:00:00+01:00"].map((t) => iso(`2026-10-25T${t}`)),
    );
    expect(runs("0 * * * *", "2026-10-25T01:30:00+02:00", 3, "Europe/Berlin")).toEqual(
      ["02:00:00+02:00", "02:00:00+01:00", "03:00:00+01:00"].map((t) => iso(`2026-10-25T${t}`)),
    );
  });

  test("America/New_York repeats 01:00-01:59 instead", () => {
    expect(runs("30 1 * * *", "2026-10-31T12:00:00-04:00", 2, "America/New_York")).toEqual([
      iso("2026-11-01T01:30:00-04:00"),
      iso("2026-11-02T01:30:00-05:00"),
    ]);
  });

  test("hourly across the spring gap has no 02:00", () => {
    expect(runs("0 * * * *", "2026-03-29T00:30:00+01:00", 3, "Europe/Berlin")).toEqual(
      [iso("2026-03-29T01:00:00+01:00"), iso("2026-03-29T03:00:00+02:00"), iso("2026-03-29T04:00:00+02:00")],
    );
  });
});

describe("parseCron", () => {
  test("source is the expression trimmed", () => {
    expect(parseCron("  @daily \n").source).toBe("@daily");
    expect(parseCron("\t*/5  *\t* * *  ").source).toBe("*/5  *\t* * *");
  });

  test("fields may be separated by any whitespace", () => {
    expect(nextOf("0\t9  *\n* *", "2026-11-28T10:00:00Z")).toBe(iso("2026-11-29T09:00:00Z"));
  });

  const FIELDS5 = "expected 5 fields (minute hour day-of-month month day-of-week), 6 with a leading second, or @hourly/@daily/@weekly/@monthly/@yearly";

  test.each([
    ["61 * * * *", 'cron: minute field "61" is out of range 0-59'],
    ["* 24 * * *", 'cron: hour field "24" is out of range 0-23'],
    ["* * 0 * *", 'cron: day-of-month field "0" is out of range 1-31'],
    ["* * 32 * *", 'cron: day-of-month field "32" is out of range 1-31'],
    ["* * * 13 *", 'cron: month field "13" is out of range 1-12'],
    ["* * * 0 *", 'cron: month field "0" is out of range 1-12'],
    ["* * * * 8", 'cron: day-of-week field "8" is out of range 0-7'],
    ["1,61 * * * *", 'cron: minute field "1,61": "61" is out of range 0-59'],
    ["50-60 * * * *", 'cron: minute field "50-60" is out of range 0-59'],
    ["5-1 * * * *", 'cron: minute field "5-1" is a reversed range (write the smaller value first)'],
    ["* * * * FRI-MON", 'cron: day-of-week field "FRI-MON" is a reversed range (write the smaller value first)'],
    ["*/0 * * * *", 'cron: minute field "*/0" needs a step of at least 1'],
    ["* 1-5/0 * * *", 'cron: hour field "1-5/0" needs a step of at least 1'],
    ["*/x * * * *", 'cron: minute field "*/x" needs a step of at least 1'],
    ["*/ * * * *", 'cron: minute field "*/" needs a step of at least 1'],
    ["1/2/3 * * * *", 'cron: minute field "1/2/3" has more than one step'],
    ["1-2-3 * * * *", 'cron: minute field "1-2-3" is not a value, range or step'],
    ["1,,2 * * * *", 'cron: minute field "1,,2" has an empty list item'],
    ["1, * * * *", 'cron: minute field "1," has an empty list item'],
    [", * * * *", 'cron: minute field "," has an empty list item'],
    ["* * * FOO *", 'cron: month field "FOO" is not a number 1-12 or a name JAN-DEC'],
    ["* * * * MON-", 'cron: day-of-week field "MON-" is not a number 0-7 or a name SUN-SAT'],
    ["MON * * * *", 'cron: minute field "MON" is not a number 0-59'],
    ["-1 * * * *", 'cron: minute field "-1" is not a number 0-59'],
    ["1.5 * * * *", 'cron: minute field "1.5" is not a number 0-59'],
    ["? * * * *", 'cron: minute field "?" is not a number 0-59'],
    ["* * * * * * *", `cron: ${FIELDS5}, got 7`],
    ["* * * *", `cron: ${FIELDS5}, got 4`],
    ["", `cron: ${FIELDS5}, got 0`],
    ["   ", `cron: ${FIELDS5}, got 0`],
    ["@reboot", `cron: unknown macro "@reboot"; ${FIELDS5}`],
    ["@daily 5", `cron: unknown macro "@daily 5"; ${FIELDS5}`],
  ])("%j: %s", (expr, message) => {
    expect(refusal(expr)).toBe(message);
  });
});

describe("a leading seconds field (6 fields, as robfig/cron and Quartz)", () => {
  test.each([
    ["*/2 * * * * *", "2026-11-28T10:00:00.000Z", "2026-11-28T10:00:02.000Z"],
    ["*/2 * * * * *", "2026-11-28T10:00:01.500Z", "2026-11-28T10:00:02.000Z"],
    ["*/2 * * * * *", "2026-11-28T10:00:58.000Z", "2026-11-28T10:01:00.000Z"],
    ["30 * * * * *", "2026-11-28T10:00:30.000Z", "2026-11-28T10:01:30.000Z"],
    ["0 0 12 * * *", "2026-11-28T10:00:00.000Z", "2026-11-28T12:00:00.000Z"],
    // five fields run at second 0, strictly after the given time
    ["* * * * *", "2026-11-28T10:00:00.000Z", "2026-11-28T10:01:00.000Z"],
    ["* * * * *", "2026-11-28T10:00:59.999Z", "2026-11-28T10:01:00.000Z"],
  ])("%s after %s -> %s (UTC)", (expr, after, want) => {
    expect(nextOf(expr, after)).toBe(want);
  });

  test("a bad seconds field is named", () => {
    expect(() => parseCron("61 * * * * *")).toThrow('cron: second field "61" is out of range 0-59');
    expect(() => parseCron("* * * * * * *")).toThrow("got 7");
  });
});
