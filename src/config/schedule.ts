// When a job should start. The client turns `rnx job run --schedule=SPEC` into an RFC 3339 time
// (as Joblet's Go client, parseScheduleOnClient, does) and the server accepts only RFC 3339, so
// the two sides never disagree about what a relative delay was relative to.

export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScheduleError";
  }
}

const SECOND = 1000;
const MAX_DELAY = 365 * 24 * 3600 * SECOND;

const FORMS = 'use a delay such as "30s", "5min", "2h30m" (1 s to 1 year) or a time such as "2026-11-28T15:04:05Z" or "2026-11-28 15:04"';

/** A date and time as written; `offset` is minutes east of UTC, undefined for the local zone. */
interface Fields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  offset: number | undefined;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
// The client's zone-less layouts; a fraction after the seconds is accepted as Go's time.Parse does.
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?$/;

function fields(m: RegExpExecArray, offset: number | undefined): Fields {
  const n = (i: number) => Number(m[i] ?? 0);
  // Milliseconds are all a Date holds; further digits are dropped, not rounded.
  const ms = m[7] ? Number(m[7].slice(1, 4).padEnd(3, "0")) : 0;
  return { year: n(1), month: n(2), day: n(3), hour: n(4), minute: n(5), second: n(6), ms, offset };
}

function parseOffset(zone: string): number | undefined {
  if (zone === "Z" || zone === "z") return 0;
  const h = Number(zone.slice(1, 3));
  const min = Number(zone.slice(4, 6));
  if (h > 23 || min > 59) return undefined;
  return (zone[0] === "-" ? -1 : 1) * (h * 60 + min);
}

const daysIn = (year: number, month: number) =>
  month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;

/** Why the fields are not a real date and time, or undefined when they are. */
function problem(f: Fields): string | undefined {
  if (f.month < 1 || f.month > 12) return `month ${f.month} is out of range 1-12`;
  const days = daysIn(f.year, f.month);
  if (f.day < 1 || f.day > days) return `day ${f.day} is out of range 1-${days} for ${f.year}-${String(f.month).padStart(2, "0")}`;
  if (f.hour > 23) return `hour ${f.hour} is out of range 0-23`;
  if (f.minute > 59) return `minute ${f.minute} is out of range 0-59`;
  if (f.second > 60) return `second ${f.second} is out of range 0-60`;
  return undefined;
}

function toDate(f: Fields): Date {
  // A leap second is held as the second before it: Date has no 23:59:60.
  const second = Math.min(f.second, 59);
  // setFullYear rather than the Date constructor, which reads years 0-99 as 1900-1999.
  const d = new Date(0);
  if (f.offset === undefined) {
    d.setFullYear(f.year, f.month - 1, f.day);
    d.setHours(f.hour, f.minute, second, f.ms);
    return d;
  }
  d.setUTCFullYear(f.year, f.month - 1, f.day);
  d.setUTCHours(f.hour, f.minute, second, f.ms);
  return new Date(d.getTime() - f.offset * 60_000);
}

/** Strict RFC 3339 (`2026-11-28T15:04:05Z`, `…05.5+02:00`), as the server accepts; anything else is undefined. */
export function parseRfc3339(s: string): Date | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const offset = parseOffset(m[8]!);
  if (offset === undefined) return undefined;
  const f = fields(m, offset);
  return problem(f) === undefined ? toDate(f) : undefined;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** Go's `t.Format(time.RFC3339)` in the local zone: whole seconds, `Z` for a zero offset. */
export function formatRfc3339(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new RangeError("formatRfc3339: invalid date");
  const date = `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const east = Math.trunc(-d.getTimezoneOffset());
  if (east === 0) return `${date}T${time}Z`;
  const abs = Math.abs(east);
  return `${date}T${time}${east < 0 ? "-" : "+"}${pad(Math.trunc(abs / 60))}:${pad(abs % 60)}`;
}

const UNIT_MS: Record<string, number> = { h: 3600 * SECOND, m: 60 * SECOND, s: SECOND };
// Longer spellings first: the alternation takes the first that fits, and "5min" must not stop at "m".
const COMPONENT = /(\d+)(hours|hour|h|minutes|minute|mins|min|m|seconds|second|secs|sec|s)/y;

/** "2h30m", "90minutes", "45sec" to milliseconds; undefined when not wholly such components. */
function parseDelay(spec: string): number | undefined {
  // Go's client lowercases and drops every space, so "2h 30m" and "5 MIN" are delays too.
  const s = spec.toLowerCase().replace(/\s+/g, "");
  COMPONENT.lastIndex = 0;
  let total = 0;
  let end = 0;
  for (let m = COMPONENT.exec(s); m; m = COMPONENT.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2]![0]!]!;
    end = COMPONENT.lastIndex;
  }
  return end > 0 && end === s.length ? total : undefined;
}

/**
 * The client side of `--schedule=SPEC`: a delay ("30s", "2h30m") from `now`, or an absolute time
 * (RFC 3339, or zone-less "2026-11-28 15:04[:05]" read as local time), as the RFC 3339 string
 * sent to the server.
 */
export function parseScheduleSpec(input: string, now = new Date()): string {
  const spec = input.trim();
  if (spec === "") throw new ScheduleError(`--schedule: nothing given; ${FORMS}`);

  const zoned = RFC3339.exec(spec);
  const local = zoned ? undefined : LOCAL.exec(spec);
  if (zoned || local) {
    const offset = zoned ? parseOffset(zoned[8]!) : undefined;
    if (zoned && offset === undefined) throw new ScheduleError(`--schedule: ${JSON.stringify(spec)} has a zone offset out of range (hours 0-23, minutes 0-59)`);
    const f = fields((zoned ?? local)!, offset);
    const why = problem(f);
    if (why) throw new ScheduleError(`--schedule: ${JSON.stringify(spec)} is not a real date and time: ${why}`);
    return formatRfc3339(toDate(f));
  }

  const delay = parseDelay(spec);
  if (delay === undefined) throw new ScheduleError(`--schedule: ${JSON.stringify(spec)} is not a time; ${FORMS}`);
  if (delay < SECOND || delay > MAX_DELAY) {
    throw new ScheduleError(`--schedule: ${JSON.stringify(spec)} is out of range; a delay must be 1 s to 1 year (365 days)`);
  }
  return formatRfc3339(new Date(now.getTime() + delay));
}
