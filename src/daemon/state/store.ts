// The daemon's durable state: job records now, and later workflows, volumes and networks, each
// kind in a table of JSON records keyed by uuid. Two backends implement it: `memory` (tests,
// ephemeral use) and `local` (bun:sqlite, see sqlite.ts). Both keep every table in memory and
// hand out copies, so list() is a clone of the cache and never a disk read.
import type { JobRecord } from "../jobs/job";

/** A record a table can hold: a JSON object with a uuid. */
export interface Keyed {
  uuid: string;
}

/** What a table holds when its caller names no type. */
export type AnyRecord = Keyed & Record<string, unknown>;

/**
 * One kind of record. Values go in and come out as copies: a caller may mutate what it put or
 * got without changing the store. Records pass through JSON (undefined fields are dropped, a
 * Date becomes a string), the same in both backends.
 */
export interface Table<T extends Keyed> {
  readonly name: string;
  get(uuid: string): T | undefined;
  /** every record, in no promised order (insertion order in practice) */
  list(): T[];
  /**
   * Every record without copying: read-only views for hot read paths (ListJobs over thousands of
   * jobs). A view never changes: put() replaces the stored object, so a view's identity tells
   * whether a record changed since it was last seen.
   */
  scan(): Readonly<T>[];
  /** insert or replace; durable when it returns (local backend) */
  put(record: T): void;
  /**
   * Insert or replace now (readers see it at once), durable once the store's commit() resolves:
   * the writes staged by many callers in one turn of the event loop share one transaction and one
   * fsync (group commit), for the hot path of jobs starting and ending. A put() or delete()
   * commits whatever is staged first, so the order of changes is kept.
   */
  stage(record: T): void;
  /** true when there was a record to delete; durable when it returns (local backend) */
  delete(uuid: string): boolean;
  count(): number;
}

export type StateBackend = "memory" | "local";

export interface StateStore {
  readonly backend: StateBackend;
  readonly jobs: Table<JobRecord>;
  /**
   * The table of one kind of record, created on first use (later features: "workflows",
   * "volumes", "networks"). The same name gives the same table; `table("jobs")` is `jobs`.
   * Names: a lowercase letter, then lowercase letters, digits or "_" (at most 63).
   */
  table<T extends Keyed = AnyRecord>(name: string): Table<T>;
  /**
   * Resolves when every change staged so far is durable; rejects with a StateError when they
   * could not be written (the tables then hold changes the disk does not).
   */
  commit(): Promise<void>;
  /** Commits what is staged, then releases the store; any later call on it or its tables throws a StateError. */
  close(): void;
}

/** The state cannot be read or written; the message says which file and what to do. */
export class StateError extends Error {
  constructor(
    message: string,
    /** the file concerned, when there is one */
    readonly file?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StateError";
  }
}

const TABLE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

export function checkTableName(name: string): string {
  if (typeof name !== "string" || !TABLE_NAME.test(name) || name.startsWith("sqlite_")) {
    throw new TypeError(`invalid state table name ${JSON.stringify(name)}: use a lowercase letter, then lowercase letters, digits or "_" (at most 63)`);
  }
  return name;
}

export function isTableName(name: string): boolean {
  return TABLE_NAME.test(name) && !name.startsWith("sqlite_");
}

/**
 * The JSON text of a record and its parsed copy, after checking that it is an object keyed by a
 * non-empty string uuid, and stays so through JSON (a toJSON could change it): nothing is stored
 * that would not load again.
 */
export function encodeRecord(table: string, record: unknown): { uuid: string; json: string; copy: Keyed } {
  if (typeof record !== "object" || record === null || Array.isArray(record)) {
    throw new TypeError(`state table ${table}: a record must be an object`);
  }
  const uuid = (record as { uuid?: unknown }).uuid;
  if (typeof uuid !== "string" || uuid === "") throw new TypeError(`state table ${table}: a record needs a non-empty string uuid`);
  const json = JSON.stringify(record);
  const copy = json === undefined ? undefined : (JSON.parse(json) as unknown);
  if (typeof copy !== "object" || copy === null || Array.isArray(copy) || (copy as Keyed).uuid !== uuid) {
    throw new TypeError(`state table ${table}: record ${uuid} does not encode as a JSON object with its uuid`);
  }
  return { uuid, json, copy: copy as Keyed };
}

/**
 * A deep copy of a value that came out of JSON.parse (plain objects, arrays, primitives). About
 * 2-3 times faster than JSON.parse of the text and 10 times faster than structuredClone in Bun.
 */
export function cloneJson<T>(v: T): T {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) {
    const n = v.length;
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = cloneJson(v[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const k in v) {
    const value = cloneJson((v as Record<string, unknown>)[k]);
    // JSON.parse makes "__proto__" an own property; an assignment would set the prototype instead
    if (k === "__proto__") Object.defineProperty(out, k, { value, writable: true, enumerable: true, configurable: true });
    else out[k] = value;
  }
  return out as T;
}

/** Where a cached table's changes go before the cache takes them (nothing, for memory). */
export interface TableSink {
  put(uuid: string, json: string): void;
  /** queued for the store's next commit */
  stage(uuid: string, json: string): void;
  delete(uuid: string): void;
}

/**
 * A table served from memory: parsed records by uuid, copied on the way out. With a sink, a
 * change is written there first and reaches the cache only if that succeeded.
 */
export class CachedTable<T extends Keyed> implements Table<T> {
  constructor(
    readonly name: string,
    private readonly rows: Map<string, T>,
    private readonly sink: TableSink | undefined,
    private readonly live: () => void,
  ) {}

  get(uuid: string): T | undefined {
    this.live();
    const r = this.rows.get(uuid);
    return r === undefined ? undefined : cloneJson(r);
  }

  list(): T[] {
    this.live();
    const out = new Array<T>(this.rows.size);
    let i = 0;
    for (const r of this.rows.values()) out[i++] = cloneJson(r);
    return out;
  }

  scan(): Readonly<T>[] {
    this.live();
    return [...this.rows.values()];
  }

  put(record: T): void {
    this.live();
    const { uuid, json, copy } = encodeRecord(this.name, record);
    this.sink?.put(uuid, json);
    this.rows.set(uuid, copy as T);
  }

  stage(record: T): void {
    this.live();
    const { uuid, json, copy } = encodeRecord(this.name, record);
    this.sink?.stage(uuid, json);
    this.rows.set(uuid, copy as T);
  }

  delete(uuid: string): boolean {
    this.live();
    if (!this.rows.has(uuid)) return false;
    this.sink?.delete(uuid);
    this.rows.delete(uuid);
    return true;
  }

  count(): number {
    this.live();
    return this.rows.size;
  }
}
