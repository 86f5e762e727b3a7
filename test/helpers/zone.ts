// Runs code in a time zone: Bun applies a change of TZ at once (schedule.test.ts checks it), and
// the zone is put back afterwards so other tests in the same run are not affected.

export function inZone<T>(tz: string, fn: () => T): T {
  const saved = process.env.TZ;
  process.env.TZ = tz;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}
