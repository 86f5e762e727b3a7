// Job output: one append-only file per job, and any number of followers that read it from any
// offset and then wait for more. The file is the only buffer: a slow follower reads at its own
// pace and never holds up the job or the others, memory stays flat, and every follower sees the
// same bytes in the same order. A job's log stops growing at maxBytes (with a closing note).
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

export class JobLog {
  private fd: number | undefined;
  private bytes = 0;
  private ended = false;
  private truncated = false;
  private wake: (() => void) | undefined;
  private changed: Promise<void> | undefined;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly chunkSize: number,
  ) {
    this.fd = openSync(path, "a+", 0o600);
    this.bytes = fstatSync(this.fd).size;
  }

  get size(): number {
    return this.bytes;
  }

  get closed(): boolean {
    return this.ended;
  }

  append(chunk: Uint8Array): void {
    if (this.ended || this.fd === undefined || this.truncated) return;
    let data = chunk;
    if (this.bytes + data.length > this.maxBytes) {
      data = data.subarray(0, Math.max(0, this.maxBytes - this.bytes));
      this.truncated = true;
    }
    for (let off = 0; off < data.length; ) off += writeSync(this.fd, data, off);
    this.bytes += data.length;
    if (this.truncated) {
      const note = Buffer.from(`\n[joblet: output exceeded ${this.maxBytes} bytes; the rest was discarded]\n`);
      writeSync(this.fd, note);
      this.bytes += note.length;
    }
    this.notify();
  }

  /** No more output will come: followers finish once they have read everything. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    this.changed = undefined;
    wake?.();
  }

  private next(): Promise<void> {
    this.changed ??= new Promise((resolve) => (this.wake = resolve));
    return this.changed;
  }

  /** Everything from `offset`, then new output as it comes, until the log is closed or `stop()` says so. */
  async *follow(offset = 0, stop: () => boolean = () => false): AsyncGenerator<Uint8Array> {
    const fd = openSync(this.path, "r");
    try {
      let pos = offset;
      while (!stop()) {
        if (pos < this.bytes) {
          const buf = Buffer.allocUnsafe(Math.min(this.chunkSize, this.bytes - pos));
          const n = readSync(fd, buf, 0, buf.length, pos);
          if (n <= 0) break;
          pos += n;
          yield n === buf.length ? buf : buf.subarray(0, n);
          continue;
        }
        if (this.ended) return;
        await this.next();
      }
    } finally {
      closeSync(fd);
    }
  }
}

export class LogStore {
  private readonly open = new Map<string, JobLog>();

  constructor(
    private readonly dir: string,
    private readonly opts: { maxBytes: number; chunkSize: number },
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private pathOf(uuid: string): string {
    return join(this.dir, `${uuid}.log`);
  }

  /** The job's log, opened for appending if it is still being written. */
  create(uuid: string): JobLog {
    const log = new JobLog(this.pathOf(uuid), this.opts.maxBytes, this.opts.chunkSize);
    this.open.set(uuid, log);
    return log;
  }

  get(uuid: string): JobLog | undefined {
    return this.open.get(uuid);
  }

  has(uuid: string): boolean {
    return this.open.has(uuid) || existsSync(this.pathOf(uuid));
  }

  remove(uuid: string): void {
    this.open.get(uuid)?.close();
    this.open.delete(uuid);
    rmSync(this.pathOf(uuid), { force: true });
  }
}
