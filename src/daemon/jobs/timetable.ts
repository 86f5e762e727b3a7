// Jobs due at a wall-clock time (scheduled jobs, recurring schedules' next runs), in time order,
// behind one timer. The timer never sleeps longer than a minute, so a change of the system clock
// is noticed within a minute rather than after the original delay.
const MAX_SLEEP_MS = 60_000;

export class Timetable {
  /** sorted by time, then by insertion */
  private entries: { uuid: string; at: number }[] = [];
  private timer?: ReturnType<typeof setTimeout>;
  private stopped = false;

  constructor(
    private readonly due: (uuid: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Calls `due(uuid)` at `at` (ms since the epoch), or at once when that has passed; replaces an earlier entry for uuid. */
  at(uuid: string, at: number): void {
    this.remove(uuid);
    let i = this.entries.length;
    while (i > 0 && this.entries[i - 1]!.at > at) i--;
    this.entries.splice(i, 0, { uuid, at });
    this.arm();
  }

  remove(uuid: string): boolean {
    const i = this.entries.findIndex((e) => e.uuid === uuid);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    this.arm();
    return true;
  }

  has(uuid: string): boolean {
    return this.entries.some((e) => e.uuid === uuid);
  }

  get size(): number {
    return this.entries.length;
  }

  /** No more calls (daemon shutdown); the entries stay in the state store. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.entries = [];
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const first = this.entries[0];
    if (!first || this.stopped) return;
    const wait = Math.min(Math.max(first.at - this.now(), 0), MAX_SLEEP_MS);
    this.timer = setTimeout(() => this.fire(), wait);
  }

  private fire(): void {
    const now = this.now();
    const ready: string[] = [];
    while (this.entries.length && this.entries[0]!.at <= now) ready.push(this.entries.shift()!.uuid);
    this.arm();
    for (const uuid of ready) if (!this.stopped) this.due(uuid);
  }
}
