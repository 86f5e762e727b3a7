// Recurring schedules: standard 5-field cron expressions with Vixie cron's day rules, evaluated
// in the server's local time zone. A sixth, leading seconds field is accepted too (as in
// robfig/cron and Quartz), for schedules finer than a minute.

export class CronError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CronError";
  }
}

export interface CronSchedule {
  /** The expression as given (trimmed). */
  readonly source: string;
  /** The first whole second strictly after `after` that matches; undefined if none within 5 years. */
  next(after: Date): Date | undefined;
}

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Upper end of `*` and `a/n`; below `max` only for day-of-week, whose 7 is just another Sunday. */
  readonly openMax: number;
  readonly names?: Readonly<Record<string, number>>;
}

const MONTHS = Object.fromEntries(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"].map((n, i) => [n, i + 1]));
const DAYS = Object.fromEntries(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"].map((n, i) => [n, i]));

const SECOND: FieldSpec = { name: "second", min: 0, max: 59, openMax: 59 };

const FIELDS: readonly FieldSpec[] = [
  { name: "minute", min: 0, max: 59, openMax: 59 },
  { name: "hour", min: 0, max: 23, openMax: 23 },
  { name: "day-of-month", min: 1, max: 31, openMax: 31 },
  { name: "month", min: 1, max: 12, openMax: 12, names: MONTHS },
  { name: "day-of-week", min: 0, max: 7, openMax: 6, names: DAYS },
];

const MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const FORM = "expected 5 fields (minute hour day-of-month month day-of-week), 6 with a leading second, or @hourly/@daily/@weekly/@monthly/@yearly";

interface Field {
  /** allowed[v] for each value v of the field. */
  readonly allowed: readonly boolean[];
  /** Written with a leading `*`: Vixie cron's test for an unrestricted day field. */
  readonly star: boolean;
}

function parseField(text: string, spec: FieldSpec): Field {
  const allowed: boolean[] = new Array<boolean>(spec.max + 1).fill(false);
  const fail = (part: string, why: string): never => {
    const where = part === text ? JSON.stringify(text) : `${JSON.stringify(text)}: ${JSON.stringify(part)}`;
    throw new CronError(`cron: ${spec.name} field ${where} ${why}`);
  };
  const value = (part: string, v: string): number => {
    const n = /^\d+$/.test(v) ? Number(v) : spec.names?.[v.toUpperCase()];
    if (n === undefined) {
      const names = spec.names ? ` or a name ${Object.keys(spec.names)[0]}-${Object.keys(spec.names).at(-1)}` : "";
      return fail(part, `is not a number ${spec.min}-${spec.max}${names}`);
    }
    if (n < spec.min || n > spec.max) fail(part, `is out of range ${spec.min}-${spec.max}`);
    return n;
  };

  for (const part of text.split(",")) {
    if (part === "") fail(text, "has an empty list item");
    const [range = "", stepText, extraStep] = part.split("/");
    if (extraStep !== undefined) fail(part, "has more than one step");
    let step = 1;
    if (stepText !== undefined) {
      step = /^\d+$/.test(stepText) ? Number(stepText) : NaN;
      if (!(step >= 1)) fail(part, "needs a step of at least 1");
    }
    let lo: number;
    let hi: number;
    if (range === "*") {
      lo = spec.min;
      hi = spec.openMax;
    } else {
      const [a = "", b, extra] = range.split("-");
      if (extra !== undefined) fail(part, "is not a value, range or step");
      lo = value(part, a);
      // "a/n" runs from a to the end of the field, as in cronie.
      hi = b !== undefined ? value(part, b) : stepText !== undefined ? Math.max(lo, spec.openMax) : lo;
      if (lo > hi) fail(part, "is a reversed range (write the smaller value first)");
    }
    for (let v = lo; v <= hi; v += step) allowed[v] = true;
  }
  // Day-of-week 7 is Sunday, like 0.
  if (spec.name === "day-of-week" && allowed[7]) allowed[0] = true;
  return { allowed, star: text.startsWith("*") };
}

const MINUTE = 60_000;

/** Local midnight of a calendar day (month 0-based, overflow allowed); setFullYear keeps years < 100 literal. */
function midnight(year: number, month: number, day: number): Date {
  const d = new Date(2000, 0, 1);
  d.setFullYear(year, month, day);
  d.setHours(0, 0, 0, 0);
  return d;
}

class Cron implements CronSchedule {
  private readonly second: Field;
  private readonly minute: Field;
  private readonly hour: Field;
  private readonly dom: Field;
  private readonly month: Field;
  private readonly dow: Field;

  constructor(
    readonly source: string,
    second: Field,
    fields: readonly Field[],
  ) {
    this.second = second;
    [this.minute, this.hour, this.dom, this.month, this.dow] = fields as [Field, Field, Field, Field, Field];
  }

  private dayMatches(t: Date): boolean {
    const dom = this.dom.allowed[t.getDate()] === true;
    const dow = this.dow.allowed[t.getDay()] === true;
    // Vixie cron: when both day fields are restricted, either may match; otherwise both must (a bare `*` matches every day).
    return this.dom.star || this.dow.star ? dom && dow : dom || dow;
  }

  /**
   * True for the second pass through a wall-clock time repeated when clocks go back. A job at a
   * fixed time (neither minute nor hour starts with `*`) then runs once, as in Vixie cron.
   */
  private repeated(t: Date): boolean {
    if (this.minute.star || this.hour.star) return false;
    const first = midnight(t.getFullYear(), t.getMonth(), t.getDate());
    first.setHours(t.getHours(), t.getMinutes());
    return first.getTime() < t.getTime();
  }

  next(after: Date): Date | undefined {
    if (Number.isNaN(after.getTime())) return undefined;
    const limit = new Date(after.getTime());
    limit.setFullYear(limit.getFullYear() + 5);
    // Floored by arithmetic: setSeconds(0) in a repeated hour re-reads the wall time as its first pass, an hour earlier.
    const from = after.getTime() - after.getMilliseconds() + 1000; // the next whole second
    const fromMinute = from - new Date(from).getSeconds() * 1000;
    for (let m = this.nextMinute(new Date(fromMinute), limit); m; m = this.nextMinute(new Date(m.getTime() + MINUTE), limit)) {
      const earliest = m.getTime() === fromMinute ? new Date(from).getSeconds() : 0;
      for (let sec = earliest; sec < 60; sec++) if (this.second.allowed[sec]) return new Date(m.getTime() + sec * 1000);
    }
    return undefined;
  }

  /** The first matching minute at or after `start` (a whole minute), up to `limit`. */
  private nextMinute(start: Date, limit: Date): Date | undefined {
    let t = start;
    // Each step moves strictly forward: jumps that DST would turn backwards fall back to one minute.
    const forward = (c: Date) => (c.getTime() > t.getTime() ? c : new Date(t.getTime() + MINUTE));
    while (t.getTime() <= limit.getTime()) {
      if (!this.month.allowed[t.getMonth() + 1]) {
        t = forward(midnight(t.getFullYear(), t.getMonth() + 1, 1));
      } else if (!this.dayMatches(t)) {
        t = forward(midnight(t.getFullYear(), t.getMonth(), t.getDate() + 1));
      } else if (!this.hour.allowed[t.getHours()]) {
        // Elapsed time, not wall time: a skipped hour is passed over, a repeated one is visited twice.
        t = new Date(t.getTime() + (60 - t.getMinutes()) * MINUTE);
      } else if (!this.minute.allowed[t.getMinutes()] || this.repeated(t)) {
        t = new Date(t.getTime() + MINUTE);
      } else {
        return t;
      }
    }
    return undefined;
  }
}

/** A 5-field (or 6 with a leading second) cron expression or @macro; throws CronError naming the bad field. */
export function parseCron(expr: string): CronSchedule {
  const source = expr.trim();
  let text = source;
  if (source.startsWith("@")) {
    const macro = MACROS[source.toLowerCase()];
    if (macro === undefined) throw new CronError(`cron: unknown macro ${JSON.stringify(source)}; ${FORM}`);
    text = macro;
  }
  const parts = text === "" ? [] : text.split(/\s+/);
  if (parts.length !== FIELDS.length && parts.length !== FIELDS.length + 1) throw new CronError(`cron: ${FORM}, got ${parts.length}`);
  const second = parts.length > FIELDS.length ? parseField(parts.shift()!, SECOND) : parseField("0", SECOND);
  return new Cron(
    source,
    second,
    parts.map((p, i) => parseField(p, FIELDS[i]!)),
  );
}
