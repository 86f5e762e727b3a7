// Job output: one append-only file per job, written by the job's joblet-init (never by the
// daemon, so output survives a daemon crash), and any number of followers that read it from any
// byte offset and then wait for more. The file is the only buffer: a slow follower reads at its
// own pace and never holds up the job or the others, memory stays flat, and every follower sees
// the same bytes in the same order. Offsets are byte positions in the file, so a replay that
// turns into a follow has no gap and no duplicate, and a client can resume exactly.
import { closeSync, existsSync, fstatSync, openSync, readSync, watch, type FSWatcher } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { fileSize, JobFiles } from "../jobs/job-files";

/** Followers re-check the file at least this often (inotify covers the rest). */
const POLL_MS = 250;

export class JobLog {
  private ended: boolean;
  private watcher: FSWatcher | undefined;
  private readonly waiting = new Set<() => void>();

  constructor(
    readonly path: string,
    private readonly chunkSize: number,
    ended = false,
    /** the fallback re-check of waiting followers */
    private readonly pollMs = POLL_MS,
    /** settles once the file exists (or could not be created): followers wait for it */
    private readonly created: Promise<unknown> = Promise.resolve(),
  ) {
    this.ended = ended;
  }

  /** Bytes written so far. */
  get size(): number {
    return fileSize(this.path);
  }

  /** True once the job's init has exited: the file will not grow any more. */
  get closed(): boolean {
    return this.ended;
  }

  /** No more output will come: followers finish once they have read everything. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.wake();
  }

  /** Every waiting follower re-reads the file. */
  private wake(): void {
    for (const done of [...this.waiting]) done();
  }

  /** Resolves when the file may have grown, the log closed, or pollMs passed. */
  private changed(): Promise<void> {
    if (this.ended) return Promise.resolve();
    try {
      this.watcher ??= watch(this.path, { persistent: false }, () => this.wake());
    } catch {
      // the timer alone still works
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        if (this.waiting.size === 0) {
          // the last follower to stop waiting releases the inotify watch
          this.watcher?.close();
          this.watcher = undefined;
        }
        resolve();
      };
      const timer = setTimeout(done, this.pollMs);
      this.waiting.add(done);
    });
  }

  /** Everything from byte `offset`, then new output as it comes, until the log is closed or
   * `stop()` says so. Each chunk has `headroom` free bytes before it in its buffer (room for a
   * message header, so the chunk is never copied). */
  async *follow(offset = 0, stop: () => boolean = () => false, headroom = 0): AsyncGenerator<Uint8Array> {
    await this.created.catch(() => undefined); // a job still being set up: its file is on its way
    let fd: number;
    try {
      fd = openSync(this.path, "r");
    } catch {
      return; // removed (DeleteJob, retention)
    }
    try {
      let pos = offset;
      while (!stop()) {
        const wasEnded = this.ended; // read before the size: output then EOF, never EOF then output
        const size = fstatSync(fd).size;
        if (pos < size) {
          const buf = Buffer.allocUnsafe(headroom + Math.min(this.chunkSize, size - pos)); // the consumer keeps it
          const n = readSync(fd, buf, headroom, buf.length - headroom, pos);
          if (n <= 0) break;
          pos += n;
          yield buf.subarray(headroom, headroom + n);
          continue;
        }
        if (wasEnded) return;
        await this.changed();
      }
    } finally {
      closeSync(fd);
    }
  }
}

export class LogStore {
  private readonly open = new Map<string, JobLog>();

  /** one log file per job */
  readonly files: JobFiles;

  constructor(
    dir: string,
    private readonly opts: { chunkSize: number },
  ) {
    this.files = new JobFiles(dir, ".log");
  }

  /**
   * The log of a job that is about to start: its file, created empty (off the event loop: a file
   * creation can wait behind the disk), and a handle for the job's init, the only writer, which
   * the caller closes once the job is spawned. The log is the job's live one from this call on,
   * before its file exists: a follower that comes meanwhile waits for the file and reads the job's
   * output as it comes (rather than finding no log, or an empty file taken for a finished one).
   */
  create(uuid: string): Promise<{ log: JobLog; file: FileHandle }> {
    const path = this.files.path(uuid);
    const file = open(path, "w", 0o600);
    const log = new JobLog(path, this.opts.chunkSize, false, undefined, file);
    this.open.set(uuid, log);
    return file.then((f) => ({ log, file: f }));
  }

  /** The job's log: the live one while the job runs, else the stored history (undefined if none). */
  get(uuid: string): JobLog | undefined {
    const live = this.open.get(uuid);
    if (live) return live;
    const path = this.files.path(uuid);
    return existsSync(path) ? new JobLog(path, this.opts.chunkSize, true) : undefined;
  }

  /** The job ended: its log is history now. */
  finished(uuid: string): void {
    this.open.get(uuid)?.close();
    this.open.delete(uuid);
  }

  remove(uuid: string): void {
    this.finished(uuid);
    this.files.remove(uuid);
  }
}
