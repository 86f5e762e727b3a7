// The `memory` state backend: the tables live as long as the process (tests, ephemeral use).
import type { JobRecord } from "../jobs/job";
import { CachedTable, checkTableName, StateError, type AnyRecord, type Keyed, type StateStore, type Table } from "./store";

export class MemoryStateStore implements StateStore {
  readonly backend = "memory" as const;
  readonly jobs: Table<JobRecord>;
  private readonly tables = new Map<string, CachedTable<Keyed>>();
  private closed = false;
  private readonly live = () => {
    if (this.closed) throw new StateError("the state store is closed");
  };

  constructor() {
    this.jobs = this.table<JobRecord>("jobs");
  }

  table<T extends Keyed = AnyRecord>(name: string): Table<T> {
    this.live();
    let t = this.tables.get(checkTableName(name));
    if (!t) {
      t = new CachedTable<Keyed>(name, new Map(), undefined, this.live);
      this.tables.set(name, t);
    }
    return t as unknown as Table<T>;
  }

  /** Nothing to write: changes are as durable as they get when they are made. */
  commit(): Promise<void> {
    this.live();
    return Promise.resolve();
  }

  close(): void {
    this.closed = true;
  }
}
