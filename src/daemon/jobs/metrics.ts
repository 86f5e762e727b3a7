// Job resource samples: taken from each running job's cgroup every telemetry.metrics_interval,
// appended to one JSON-lines file per job (history) and handed to live followers.
import { existsSync, readFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import type { JobCgroup } from "../sandbox/cgroups/driver";
import { JobFiles } from "./job-files";

export interface Sample {
  /** ns since the epoch */
  timestamp: bigint;
  cpuPercent: number;
  memoryBytes: number;
  memoryLimit: number;
  diskReadBytes: number;
  diskWriteBytes: number;
}

interface Stored {
  t: string;
  cpu: number;
  mem: number;
  limit: number;
  rd: number;
  wr: number;
}

const toStored = (s: Sample): Stored => ({ t: String(s.timestamp), cpu: s.cpuPercent, mem: s.memoryBytes, limit: s.memoryLimit, rd: s.diskReadBytes, wr: s.diskWriteBytes });
const fromStored = (s: Stored): Sample => ({ timestamp: BigInt(s.t), cpuPercent: s.cpu, memoryBytes: s.mem, memoryLimit: s.limit, diskReadBytes: s.rd, diskWriteBytes: s.wr });

interface Feed {
  closed: boolean;
  waiters: (() => void)[];
  recent: Sample[];
}

export class MetricsStore {
  private readonly feeds = new Map<string, Feed>();
  /** the last write queued for each job's file */
  private readonly writes = new Map<string, Promise<void>>();

  /** one JSON-lines file of samples per job */
  readonly files: JobFiles;

  constructor(dir: string) {
    this.files = new JobFiles(dir, ".jsonl");
  }

  private file(uuid: string): string {
    return this.files.path(uuid);
  }

  private feed(uuid: string): Feed {
    let f = this.feeds.get(uuid);
    if (!f) this.feeds.set(uuid, (f = { closed: false, waiters: [], recent: [] }));
    return f;
  }

  open(uuid: string): void {
    this.feed(uuid);
  }

  /** history() of the job waits for `pending` too (a sample being taken, then appended). */
  hold(uuid: string, pending: Promise<unknown>): void {
    const held = Promise.all([this.writes.get(uuid), pending]).then(() => undefined);
    this.writes.set(uuid, held);
    void held.then(() => {
      if (this.writes.get(uuid) === held) this.writes.delete(uuid);
    });
  }

  /**
   * Stores a sample (off the event loop: a file write can wait behind the disk's journal) and
   * hands it to live followers at once. Writes to one job's file are chained, so they land in order.
   */
  append(uuid: string, s: Sample): void {
    const line = `${JSON.stringify(toStored(s))}\n`;
    const write = (this.writes.get(uuid) ?? Promise.resolve())
      .then(() => appendFile(this.file(uuid), line, { mode: 0o600 }))
      .catch(() => undefined); // a lost sample is not worth more than a gap in the history
    this.writes.set(uuid, write);
    void write.then(() => {
      if (this.writes.get(uuid) === write) this.writes.delete(uuid);
    });
    const f = this.feed(uuid);
    f.recent.push(s);
    if (f.recent.length > 64) f.recent.shift(); // followers only need what they have not read yet
    for (const w of f.waiters.splice(0)) w();
  }

  /** No more samples for this job. */
  close(uuid: string): void {
    const f = this.feed(uuid);
    f.closed = true;
    for (const w of f.waiters.splice(0)) w();
  }

  /** Stored samples within [start, end] ns (0 = open), at most `limit` (0 = all, else the latest). */
  async history(uuid: string, opts: { start?: bigint; end?: bigint; limit?: number } = {}): Promise<Sample[]> {
    await this.writes.get(uuid); // samples still being written belong to it
    if (!existsSync(this.file(uuid))) return [];
    let all = readFileSync(this.file(uuid), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => fromStored(JSON.parse(l) as Stored))
      .filter((s) => (!opts.start || s.timestamp >= opts.start) && (!opts.end || s.timestamp <= opts.end));
    if (opts.limit && all.length > opts.limit) all = all.slice(-opts.limit);
    return all;
  }

  /**
   * The latest samples it holds, then new ones as they are taken, until the job's sampling ends or
   * `stop()` says so. Starting with the held ones lets a client join history and live without a gap.
   */
  async *follow(uuid: string, stop: () => boolean = () => false): AsyncGenerator<Sample> {
    const f = this.feed(uuid);
    let after = 0n;
    while (!stop()) {
      const fresh = f.recent.filter((s) => s.timestamp > after);
      for (const s of fresh) {
        after = s.timestamp;
        yield s;
      }
      if (f.closed) return;
      await new Promise<void>((resolve) => f.waiters.push(resolve));
    }
  }

  remove(uuid: string): void {
    this.close(uuid);
    this.feeds.delete(uuid);
    this.files.remove(uuid);
    void this.writes.get(uuid)?.then(() => this.files.remove(uuid)); // a write in flight would bring it back
  }
}

interface Watched {
  cgroup: JobCgroup;
  lastCpuNs: number;
  lastTime: number;
}

/** Samples every watched job's cgroup on one timer. */
export class MetricsSampler {
  private readonly watched = new Map<string, Watched>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly store: MetricsStore,
    private readonly intervalMs: number,
  ) {}

  watch(uuid: string, cgroup: JobCgroup): void {
    this.store.open(uuid);
    this.watched.set(uuid, { cgroup, lastCpuNs: 0, lastTime: performance.now() });
    this.timer ??= setInterval(() => this.sampleAll(), this.intervalMs);
  }

  /** One last sample, then the job's feed ends; resolves when that sample is taken (the cgroup may go then). */
  async unwatch(uuid: string): Promise<void> {
    const w = this.watched.get(uuid);
    this.watched.delete(uuid);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (w) {
      const last = this.sample(uuid, w);
      this.store.hold(uuid, last); // a history asked for once the job has ended includes it
      await last;
    }
    this.store.close(uuid);
  }

  private sampleAll(): void {
    for (const [uuid, w] of this.watched) void this.sample(uuid, w);
  }

  private async sample(uuid: string, w: Watched): Promise<void> {
    let stats;
    try {
      stats = await w.cgroup.stats();
    } catch {
      return; // the cgroup is going away
    }
    const now = performance.now();
    const cpuPercent = now > w.lastTime ? Math.max(0, ((stats.cpuNs - w.lastCpuNs) / 1e6 / (now - w.lastTime)) * 100) : 0;
    w.lastCpuNs = stats.cpuNs;
    w.lastTime = now;
    this.store.append(uuid, {
      timestamp: BigInt(Date.now()) * 1_000_000n,
      cpuPercent: Math.round(cpuPercent * 100) / 100,
      memoryBytes: stats.memoryBytes,
      memoryLimit: stats.memoryLimit,
      diskReadBytes: stats.ioReadBytes,
      diskWriteBytes: stats.ioWriteBytes,
    });
  }
}
