// The `local` state backend: one SQLite database, <directory>/joblet.db, in WAL mode, and every
// commit fsynced, so a put() or delete() that has returned survives the process being killed and
// the machine losing power. SQLite runs with synchronous=NORMAL (it syncs the log at checkpoints,
// keeping the database consistent) and the store fsyncs the write-ahead log itself after each
// commit: at once for put() and delete(), off the event loop for staged writes, whose commit()
// resolves only after that fsync. Together that is synchronous=FULL's guarantee, without the
// event loop waiting for the disk while jobs start. Reads are served from an in-memory copy loaded at open; a put or
// delete goes to SQLite first (one statement, its own transaction, fsynced at commit) and then
// to the copy, so the copy never holds anything the disk does not. Staged writes (stage()) are
// the exception, by request: the copy takes them at once, and they are written together, in one
// transaction, at the end of the event loop's turn, or a few milliseconds after the previous
// commit (or before the next put, delete or close); commit() tells when they are durable.
//
// Opening is careful with what it finds: a file that is not a database, fails PRAGMA
// quick_check, cannot be read, was written by a newer schema, or holds a row whose JSON does
// not parse makes open() throw a StateError naming the file and the way out. It is checked
// through a read-only connection before anything writes, and is never deleted, truncated or
// rewritten. (A read-only check can leave an empty -wal and a -shm file next to it.) A damaged
// write-ahead log is left to SQLite, which replays it up to the last intact commit and drops the
// rest without an error (state-sqlite.test.ts shows what that means).
//
// One process at a time: <directory>/joblet.lock is held (an exclusive SQLite lock, released by
// the kernel when the process dies) for as long as the store is open, since the in-memory copy
// assumes nobody else writes.
import { Database, type Statement } from "bun:sqlite";
import { chmodSync, closeSync, constants, fsync, fsyncSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileSize } from "../jobs/job-files";
import type { JobRecord } from "../jobs/job";
import { CachedTable, checkTableName, isTableName, StateError, type AnyRecord, type Keyed, type StateStore, type Table } from "./store";

export const DB_FILE = "joblet.db";
export const LOCK_FILE = "joblet.lock";
const BUSY_TIMEOUT_MS = 5000;
/** the WAL is cut back to this size after a checkpoint (it is reused, not grown forever) */
const WAL_SIZE_LIMIT = 64 * 1024 * 1024;
const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1");
/** Staged changes are committed at most once per this long: under load, more of them share each fsync. */
const COMMIT_GAP_MS = 4;

/** One schema step: MIGRATIONS[v] takes a database from version v to v + 1. */
export type Migration = (db: Database) => void;

/** Every table has this layout: the record's uuid, its JSON, and when it was last written (ms). */
export function createTableSql(name: string): string {
  return `CREATE TABLE IF NOT EXISTS "${checkTableName(name)}" (id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL, updated_at INTEGER NOT NULL)`;
}

/**
 * The schema's history, oldest first; PRAGMA user_version is the number applied. Append only:
 * never edit or reorder a step that has shipped. Tables of kinds added later (workflows,
 * volumes, ...) are created on first use with createTableSql and need no step.
 */
export const MIGRATIONS: readonly Migration[] = [
  // 0 → 1: the jobs table
  (db) => db.run(createTableSql("jobs")),
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export interface SqliteOptions {
  /** "full": every commit fsynced (the default and the only durable choice); "normal" (no fsync per commit) exists for the benchmark */
  synchronous?: "full" | "normal";
  /** the schema history; tests replace it to exercise the mechanism */
  migrations?: readonly Migration[];
}

const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function recovery(file: string): string {
  return `Nothing was changed. To start with an empty state, move it aside: mv ${file} ${file}.broken (and its -wal and -shm files); or restore it from a backup.`;
}

function unreadable(file: string, reason: string, cause?: unknown): StateError {
  return new StateError(`state database ${file} is unreadable (${reason}). ${recovery(file)}`, file, { cause });
}

function newer(file: string, version: number, known: number): StateError {
  return new StateError(
    `state database ${file} was written by a newer joblet (schema version ${version}; this joblet knows versions up to ${known}). ` +
      `Nothing was changed. Run a joblet that knows schema version ${version}; or, to start with an empty state, move it aside: mv ${file} ${file}.broken (and its -wal and -shm files).`,
    file,
  );
}

function userVersion(db: Database): number {
  return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
}

/**
 * Brings db to migrations.length in one transaction: all steps and the new user_version commit
 * together or not at all. A database newer than the list is refused. Returns the versions.
 */
export function migrate(db: Database, migrations: readonly Migration[], file: string): { from: number; to: number } {
  const to = migrations.length;
  const current = userVersion(db);
  if (current > to) throw newer(file, current, to);
  if (current === to) return { from: current, to };
  const from = db
    .transaction(() => {
      const from = userVersion(db); // again, under the write lock
      if (from > to) throw newer(file, from, to);
      for (let v = from; v < to; v++) {
        try {
          migrations[v]!(db);
        } catch (e) {
          throw new StateError(
            `state database ${file}: the migration to schema version ${v + 1} failed (${reasonOf(e)}). Nothing was changed: the migrations were rolled back.`,
            file,
            { cause: e },
          );
        }
      }
      db.run(`PRAGMA user_version = ${to}`);
      return from;
    })
    .immediate();
  return { from, to };
}

type Loaded = Map<string, Map<string, Keyed>>;

/** Every table's records, parsed and checked: a row that is not a JSON record with its id as uuid is corruption. */
function loadTables(db: Database, file: string): Loaded {
  const out: Loaded = new Map();
  const names = (db.query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").values() as [string][]).map((r) => r[0]).filter(isTableName);
  for (const name of names) {
    const rows = new Map<string, Keyed>();
    for (const [id, body] of db.query(`SELECT id, body FROM "${name}" ORDER BY rowid`).values()) {
      if (typeof id !== "string") throw unreadable(file, `table ${name}: a row has the id ${String(id)}, which is not text`);
      if (typeof body !== "string") throw unreadable(file, `table ${name}, id ${id}: the body is not text`);
      let record: unknown;
      try {
        record = JSON.parse(body);
      } catch (e) {
        throw unreadable(file, `table ${name}, id ${id}: the body is not valid JSON: ${reasonOf(e)}`, e);
      }
      if (typeof record !== "object" || record === null || Array.isArray(record) || (record as Keyed).uuid !== id) {
        throw unreadable(file, `table ${name}, id ${id}: the body is not a record with uuid ${id}`);
      }
      rows.set(id, record as Keyed);
    }
    out.set(name, rows);
  }
  return out;
}

/**
 * What is on disk before SQLite sees it. Refuses a file that is not a regular file, cannot be
 * read or lacks the SQLite header, and a write-ahead log without a database (SQLite would
 * delete such a log when it opens the empty database).
 */
function inspect(file: string): { exists: boolean; size: number } {
  const wal = `${file}-wal`;
  let st;
  try {
    st = statSync(file, { throwIfNoEntry: false });
  } catch (e) {
    throw unreadable(file, reasonOf(e), e);
  }
  if (st && !st.isFile()) throw unreadable(file, "it is not a regular file");
  const walSize = fileSize(wal);
  if ((!st || st.size === 0) && walSize > 0) {
    throw new StateError(
      `state database ${file} is ${st ? "empty" : "missing"} but its write-ahead log ${wal} holds ${walSize} bytes. Nothing was changed. ` +
        `Restore ${file} from a backup; or, to start with an empty state, move the log aside: mv ${wal} ${wal}.broken (and ${file}-shm if present${st ? `, and ${file}` : ""}).`,
      file,
    );
  }
  if (!st) return { exists: false, size: 0 };
  if (st.size > 0) {
    const head = Buffer.alloc(SQLITE_HEADER.length);
    let fd: number;
    try {
      fd = openSync(file, "r");
    } catch (e) {
      throw unreadable(file, reasonOf(e), e);
    }
    try {
      const n = readSync(fd, head, 0, head.length, 0);
      if (n < head.length || st.size < 100 || !head.equals(SQLITE_HEADER)) throw unreadable(file, "file is not a database");
    } catch (e) {
      throw e instanceof StateError ? e : unreadable(file, reasonOf(e), e);
    } finally {
      closeSync(fd);
    }
  }
  return { exists: true, size: st.size };
}

/** Checks an existing database through a read-only connection (which can write neither it nor its log). */
function validate(file: string, known: number): { version: number; tables: Loaded } {
  let ro: Database | undefined;
  try {
    ro = new Database(file, { readonly: true, strict: true });
    ro.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const version = userVersion(ro);
    if (version > known) throw newer(file, version, known);
    const check = (ro.query("PRAGMA quick_check").values() as [string][]).map((r) => String(r[0]));
    if (check.length !== 1 || check[0] !== "ok") {
      throw unreadable(file, `the integrity check failed: ${check.slice(0, 3).join("; ")}${check.length > 3 ? ` (and ${check.length - 3} more)` : ""}`);
    }
    return { version, tables: loadTables(ro, file) };
  } catch (e) {
    throw e instanceof StateError ? e : unreadable(file, reasonOf(e), e);
  } finally {
    ro?.close();
  }
}

function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates the directory 0700 (its missing parents with the usual modes). An existing directory
 * keeps its mode (it may be shared, e.g. with volume.state_dir, or be a mistake such as /var/lib
 * that chmod would break), but one that others can write to is refused: they could plant files
 * or links where the database's are made.
 */
function prepareDirectory(dir: string): void {
  let st;
  try {
    st = statSync(dir, { throwIfNoEntry: false });
    if (!st) {
      mkdirSync(dirname(dir), { recursive: true });
      try {
        mkdirSync(dir, { mode: 0o700 });
        chmodSync(dir, 0o700); // exactly, whatever the umask
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      st = statSync(dir);
    }
    if (!st.isDirectory()) throw new Error("it is not a directory");
  } catch (e) {
    throw new StateError(`state directory ${dir} cannot be used (${reasonOf(e)})`, dir, { cause: e });
  }
  if (st.mode & 0o022) {
    const m = (st.mode & 0o7777).toString(8).padStart(4, "0");
    throw new StateError(`state directory ${dir} is writable by other users (mode ${m}). Nothing was changed. Give the state a directory of its own that only joblet can write, e.g. chmod 700 ${dir}.`, dir);
  }
}

/** The one-process-at-a-time lock: an open exclusive transaction on an empty SQLite file. */
function acquireLock(dir: string): Database {
  const path = join(dir, LOCK_FILE);
  let db: Database | undefined;
  try {
    createPrivateFile(path);
    chmodSync(path, 0o600);
    db = new Database(path);
    db.query("PRAGMA journal_mode = MEMORY").get(); // no -journal file next to it
    db.run("BEGIN EXCLUSIVE");
    return db;
  } catch (e) {
    db?.close();
    if ((e as { code?: string }).code === "SQLITE_BUSY") {
      throw new StateError(
        `state directory ${dir} is in use by another joblet process (it holds the lock on ${path}). Nothing was changed. Stop that process, or give this one its own state.local.directory.`,
        path,
        { cause: e },
      );
    }
    throw new StateError(`state lock ${path} cannot be taken (${reasonOf(e)}). It holds no data: with no joblet running, it can be removed.`, path, { cause: e });
  }
}

export class SqliteStateStore implements StateStore {
  readonly backend = "local" as const;
  readonly jobs: Table<JobRecord>;
  private readonly tables = new Map<string, CachedTable<Keyed>>();
  private readonly statements: Statement[] = [];
  /** staged writes, in order, and who waits for them */
  private staged: { run: () => void; what: string }[] = [];
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private commitScheduled = false;
  private lastCommit = 0;
  /** the write-ahead log, opened at the first commit, for fsync; fsyncs in flight on it */
  private walFd?: number;
  private syncing = 0;
  private closed = false;
  private readonly live = () => {
    if (this.closed) throw new StateError(`the state store ${this.file} is closed`, this.file);
  };

  private constructor(
    /** <directory>/joblet.db */
    readonly file: string,
    /** the schema version from before this open (0: a new database) */
    readonly migratedFrom: number,
    private readonly db: Database,
    private readonly lock: Database,
    loaded: Loaded,
    /** fsync the write-ahead log after every commit */
    private readonly durable: boolean,
  ) {
    for (const [name, rows] of loaded) this.tables.set(name, this.makeTable(name, rows));
    this.jobs = this.table<JobRecord>("jobs");
  }

  /**
   * Opens (creating if need be) <directory>/joblet.db. Throws a StateError, having changed
   * nothing in the database, when it is unreadable, corrupt, newer than this joblet, or in use
   * by another process.
   */
  static open(directory: string, opts: SqliteOptions = {}): SqliteStateStore {
    const dir = resolve(directory);
    prepareDirectory(dir);
    const lock = acquireLock(dir);
    try {
      return SqliteStateStore.openLocked(dir, lock, opts);
    } catch (e) {
      lock.close();
      throw e;
    }
  }

  private static openLocked(dir: string, lock: Database, opts: SqliteOptions): SqliteStateStore {
    const migrations = opts.migrations ?? MIGRATIONS;
    const file = join(dir, DB_FILE);
    const found = inspect(file);
    let tables: Loaded | undefined;
    if (found.size > 0) {
      const v = validate(file, migrations.length);
      if (v.version === migrations.length) tables = v.tables; // else reloaded after migrating
    } else if (!found.exists) {
      try {
        createPrivateFile(file);
        fsyncDir(dir);
      } catch (e) {
        throw new StateError(`state database ${file} cannot be created (${reasonOf(e)})`, file, { cause: e });
      }
    }
    let db: Database | undefined;
    try {
      db = new Database(file, { readwrite: true, create: false, strict: true });
      db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.run("PRAGMA synchronous = NORMAL"); // with "full", the store fsyncs each commit itself (see the top)
      const mode = (db.query("PRAGMA journal_mode = WAL").get() as { journal_mode: string }).journal_mode;
      if (mode !== "wal") throw new Error(`journal_mode is ${mode}, not wal`);
      db.run(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT}`);
      const { from } = migrate(db, migrations, file);
      tables ??= loadTables(db, file);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) {
        if (statSync(f, { throwIfNoEntry: false })) chmodSync(f, 0o600);
      }
      return new SqliteStateStore(file, from, db, lock, tables, opts.synchronous !== "normal");
    } catch (e) {
      db?.close();
      if (e instanceof StateError) throw e;
      throw new StateError(`state database ${file} cannot be opened for writing (${reasonOf(e)})`, file, { cause: e });
    }
  }

  table<T extends Keyed = AnyRecord>(name: string): Table<T> {
    this.live();
    let t = this.tables.get(checkTableName(name));
    if (!t) {
      try {
        this.db.run(createTableSql(name));
      } catch (e) {
        throw new StateError(`state database ${this.file}: table ${name} cannot be created (${reasonOf(e)})`, this.file, { cause: e });
      }
      t = this.makeTable(name, new Map());
      this.tables.set(name, t);
    }
    return t as unknown as Table<T>;
  }

  commit(): Promise<void> {
    this.live();
    if (this.staged.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private scheduleCommit(): void {
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    const run = () => {
      if (!this.closed) this.commitStaged();
    };
    const wait = this.lastCommit + COMMIT_GAP_MS - performance.now();
    if (wait > 0) setTimeout(run, wait);
    else setImmediate(run);
  }

  /** Writes every staged change in one transaction (one fsync) and answers those waiting. */
  private commitStaged(): void {
    this.commitScheduled = false;
    const batch = this.staged;
    const waiting = this.waiting;
    this.staged = [];
    this.waiting = [];
    if (batch.length === 0) {
      for (const w of waiting) w.resolve();
      return;
    }
    const failed = (e: unknown) => {
      const err = new StateError(`state database ${this.file}: could not write ${batch.length} staged change${batch.length === 1 ? "" : "s"} (${batch.slice(0, 3).map((b) => b.what).join(", ")}${batch.length > 3 ? ", …" : ""}): ${reasonOf(e)}`, this.file, { cause: e });
      for (const w of waiting) w.reject(err);
    };
    try {
      this.db.transaction(() => {
        for (const op of batch) op.run();
      })();
      this.lastCommit = performance.now();
    } catch (e) {
      failed(e);
      return;
    }
    if (!this.durable) {
      for (const w of waiting) w.resolve();
      return;
    }
    let fd: number;
    try {
      fd = this.wal();
    } catch (e) {
      failed(e);
      return;
    }
    this.syncing++;
    fsync(fd, (e) => {
      if (--this.syncing === 0 && this.closed) closeSync(fd); // close() left it open for this fsync
      if (e) failed(e);
      else for (const w of waiting) w.resolve();
    });
  }

  /** The write-ahead log's fd (SQLite keeps the file, the same inode, while the database is open). */
  private wal(): number {
    this.walFd ??= openSync(`${this.file}-wal`, constants.O_RDONLY);
    return this.walFd;
  }

  /** A commit that has returned is on disk (put, delete). */
  private syncNow(): void {
    if (!this.durable) return;
    try {
      fsyncSync(this.wal());
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // no log: nothing was written through it
      throw new StateError(`state database ${this.file}: a change was written but could not be flushed to disk (${reasonOf(e)})`, this.file, { cause: e });
    }
  }

  private makeTable(name: string, rows: Map<string, Keyed>): CachedTable<Keyed> {
    // each statement is its own transaction (autocommit): durable at commit with synchronous=FULL
    const upsert = this.db.prepare(`INSERT INTO "${name}" (id, body, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`);
    const remove = this.db.prepare(`DELETE FROM "${name}" WHERE id = ?1`);
    this.statements.push(upsert, remove);
    const failed = (what: string, uuid: string, e: unknown) =>
      new StateError(`state database ${this.file}: could not ${what} ${name} ${uuid} (${reasonOf(e)}); nothing was changed`, this.file, { cause: e });
    return new CachedTable<Keyed>(
      name,
      rows,
      {
        put: (uuid, json) => {
          this.commitStaged(); // changes land in the order they were made
          try {
            upsert.run(uuid, json, Date.now());
          } catch (e) {
            throw failed("write", uuid, e);
          }
          this.syncNow();
        },
        stage: (uuid, json) => {
          const at = Date.now();
          this.staged.push({ run: () => upsert.run(uuid, json, at), what: `${name} ${uuid}` });
          this.scheduleCommit();
        },
        delete: (uuid) => {
          this.commitStaged();
          try {
            remove.run(uuid);
          } catch (e) {
            throw failed("delete", uuid, e);
          }
          this.syncNow();
        },
      },
      this.live,
    );
  }

  /** The settings in force (diagnostics, tests). */
  info(): { file: string; schemaVersion: number; journalMode: string; synchronous: string; busyTimeoutMs: number } {
    this.live();
    const one = (pragma: string) => Object.values(this.db.query(`PRAGMA ${pragma}`).get() as Record<string, unknown>)[0];
    return {
      file: this.file,
      schemaVersion: Number(one("user_version")),
      journalMode: String(one("journal_mode")),
      synchronous: ["off", "normal", "full", "extra"][Number(one("synchronous"))] ?? "unknown",
      busyTimeoutMs: Number(one("busy_timeout")),
    };
  }

  /** Checkpoints the log into the database, closes it and releases the directory lock. */
  close(): void {
    if (this.closed) return;
    this.commitStaged();
    this.closed = true;
    this.syncNow(); // what close() committed is on disk when it returns
    try {
      this.db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch {
      // busy (an outside reader): the log is checkpointed at the next open instead
    }
    for (const s of this.statements) s.finalize();
    if (this.walFd !== undefined && this.syncing === 0) closeSync(this.walFd); // else the last fsync in flight closes it
    this.db.close();
    this.lock.close();
  }
}
