// The local (SQLite) state backend beyond the shared contract: durability across close and
// SIGKILL, file modes, schema migrations, the directory lock, and what open() does with damaged
// files (refuse, name the file, change nothing), and with a damaged write-ahead log (whatever
// SQLite does: see the WAL tests).
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { JobRecord } from "../../src/daemon/jobs/job";
import { MemoryStateStore } from "../../src/daemon/state/memory";
import { openStateStore } from "../../src/daemon/state/open";
import { DB_FILE, LOCK_FILE, SCHEMA_VERSION, SqliteStateStore, type Migration } from "../../src/daemon/state/sqlite";
import { StateError } from "../../src/daemon/state/store";

const root = mkdtempSync(join(tmpdir(), "state-sqlite-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `s${++n}`);
const BUN = process.execPath;
const SQLITE_SRC = resolve(import.meta.dir, "../../src/daemon/state/sqlite.ts");

function job(i: number, over: Partial<JobRecord> = {}): JobRecord {
  return {
    uuid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`,
    name: `job-${i}`,
    command: "sh",
    args: ["-c", `echo ${i}`],
    maxCpu: 0,
    cpuCores: "",
    maxMemory: 0,
    maxIoBps: 0,
    maxPids: 0,
    network: "none",
    volumes: [],
    runtime: "",
    workDir: "/work",
    environment: {},
    secretNames: [],
    uploads: [],
    gpuCount: 0,
    gpuMemoryMb: 0,
    status: "RUNNING",
    startTime: new Date(1_700_000_000_000 + i).toISOString(),
    timeoutMs: 0,
    nodeId: "node",
    ...over,
  };
}

const mode = (p: string) => statSync(p).mode & 0o777;

/** Every file of a directory and its bytes. */
function snapshot(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
}

/** The StateError open() throws (fails the test if it opens). */
function openError(dir: string, opts?: Parameters<typeof SqliteStateStore.open>[1]): StateError {
  let store: SqliteStateStore | undefined;
  try {
    store = SqliteStateStore.open(dir, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(StateError);
    return e as StateError;
  }
  store.close();
  throw new Error(`${dir} opened`);
}

/** The refusal for an unreadable database: names the file, says nothing changed, gives the mv. */
function expectRecoveryAdvice(e: StateError, file: string) {
  expect(e.file).toBe(file);
  expect(e.message).toContain(`state database ${file} is unreadable (`);
  expect(e.message).toContain("Nothing was changed.");
  expect(e.message).toContain(`mv ${file} ${file}.broken (and its -wal and -shm files)`);
  expect(e.message).toContain("restore it from a backup");
}

/** A store with jobs 0..count-1, closed (so everything is checkpointed into joblet.db). */
function closedStore(count: number, dir = freshDir()): string {
  const s = SqliteStateStore.open(dir);
  for (let i = 0; i < count; i++) s.jobs.put(job(i));
  s.close();
  return dir;
}

/** Runs a child bun that opens the store, puts jobs from..from+count-1, prints "done" and SIGKILLs itself. */
async function putThenSigkill(dir: string, from: number, count: number): Promise<void> {
  const script = join(root, "put-then-kill.ts");
  writeFileSync(
    script,
    `import { SqliteStateStore } from ${JSON.stringify(SQLITE_SRC)};
const [dir, from, count] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const s = SqliteStateStore.open(dir);
for (let i = from; i < from + count; i++) {
  s.jobs.put({ uuid: "00000000-0000-4000-8000-" + i.toString(16).padStart(12, "0"), name: "job-" + i, status: "RUNNING" });
}
s.table("workflows").put({ uuid: "w-" + from, jobs: count });
console.log("done");
process.kill(process.pid, "SIGKILL");
`,
  );
  const child = Bun.spawn([BUN, script, dir, String(from), String(count)], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  expect({ out: out.trim(), err: err.trim(), signal: child.signalCode }).toEqual({ out: "done", err: "", signal: "SIGKILL" });
}

describe("local state: durability", () => {
  test("records survive close and reopen, generic tables too", () => {
    const dir = freshDir();
    let s = SqliteStateStore.open(dir);
    s.jobs.put(job(1));
    s.jobs.put(job(2));
    s.jobs.put(job(2, { status: "COMPLETED", exitCode: 0 }));
    s.jobs.put(job(3));
    s.jobs.delete(job(3).uuid);
    s.table("workflows").put({ uuid: "w1", steps: [1, 2, 3] });
    s.table("empty");
    s.close();
    expect(readdirSync(dir).sort()).toEqual([DB_FILE, LOCK_FILE]); // the log was checkpointed and removed at close

    s = SqliteStateStore.open(dir);
    expect(s.migratedFrom).toBe(SCHEMA_VERSION);
    expect(s.jobs.list().sort((a, b) => a.name.localeCompare(b.name))).toEqual([job(1), job(2, { status: "COMPLETED", exitCode: 0 })]);
    expect(s.table("workflows").list()).toEqual([{ uuid: "w1", steps: [1, 2, 3] }]);
    expect(s.table("empty").count()).toBe(0);
    s.close();
  });

  test("a put() that returned survives the process being SIGKILLed at once", async () => {
    const dir = freshDir();
    await putThenSigkill(dir, 0, 300);
    // nothing was checkpointed: the records are only in the write-ahead log
    expect(statSync(join(dir, `${DB_FILE}-wal`)).size).toBeGreaterThan(300 * 4096);
    const s = SqliteStateStore.open(dir);
    expect(s.jobs.count()).toBe(300);
    for (const i of [0, 1, 150, 298, 299]) expect(s.jobs.get(job(i).uuid)?.name).toBe(`job-${i}`);
    expect(s.table("workflows").get("w-0")).toEqual({ uuid: "w-0", jobs: 300 });
    s.close();
  }, 30_000);

  test("staged writes: one transaction per turn, on disk after commit(), in order with puts; close writes what is staged", async () => {
    const dir = freshDir();
    let s = SqliteStateStore.open(dir);
    const outside = new Database(join(dir, DB_FILE), { readonly: true });
    const onDisk = () => (outside.query("SELECT count(*) AS n FROM jobs").get() as { n: number }).n;
    for (let i = 0; i < 50; i++) s.jobs.stage(job(i));
    expect(onDisk()).toBe(0); // not yet
    await s.commit();
    expect(onDisk()).toBe(50);
    s.jobs.stage(job(0, { status: "RUNNING" }));
    s.jobs.put(job(0, { status: "FAILED" })); // writes the staged change first, then its own
    s.jobs.stage(job(99));
    s.close(); // writes job 99
    outside.close();
    s = SqliteStateStore.open(dir);
    expect(s.jobs.get(job(0).uuid)?.status).toBe("FAILED");
    expect(s.jobs.count()).toBe(51);
    s.close();
  });

  test("a staged write that fails rejects commit() with the file and what was lost", async () => {
    const dir = freshDir();
    const s = SqliteStateStore.open(dir);
    const w = s.table<{ uuid: string; v: number }>("workflows");
    const outside = new Database(join(dir, DB_FILE));
    outside.run("DROP TABLE workflows");
    outside.close();
    w.stage({ uuid: "a", v: 1 });
    await expect(s.commit()).rejects.toThrow(/could not write 1 staged change \(workflows a\): no such table: workflows/);
    s.close();
  });

  test("WAL mode, synchronous=NORMAL (the store fsyncs each commit itself), a busy timeout", () => {
    const s = SqliteStateStore.open(freshDir());
    expect(s.info()).toMatchObject({ schemaVersion: SCHEMA_VERSION, journalMode: "wal", synchronous: "normal", busyTimeoutMs: 5000 });
    s.close();
  });

  test("a failed write leaves the cached copy as it was", () => {
    const dir = freshDir();
    const s = SqliteStateStore.open(dir);
    const w = s.table<{ uuid: string; v: number }>("workflows");
    w.put({ uuid: "a", v: 1 });
    const outside = new Database(join(dir, DB_FILE));
    outside.run("DROP TABLE workflows");
    outside.close();
    expect(() => w.put({ uuid: "a", v: 2 })).toThrow(/could not write workflows a \(no such table: workflows\); nothing was changed/);
    expect(() => w.put({ uuid: "b", v: 1 })).toThrow(StateError);
    expect(() => w.delete("a")).toThrow(StateError);
    expect(w.list()).toEqual([{ uuid: "a", v: 1 }]);
    s.close();
  });
});

describe("local state: files", () => {
  test("directory created 0700; database, log, shared memory and lock 0600", () => {
    const old = process.umask(0); // SQLite would create its files 0644
    try {
      const parent = join(freshDir(), "nested");
      const dir = join(parent, "state");
      const s = SqliteStateStore.open(dir);
      s.jobs.put(job(1));
      expect(readdirSync(dir).sort()).toEqual([DB_FILE, `${DB_FILE}-shm`, `${DB_FILE}-wal`, LOCK_FILE]);
      expect(mode(dir)).toBe(0o700);
      expect(mode(parent)).toBe(0o777); // missing parents get the usual modes (umask 0 here)
      for (const f of readdirSync(dir)) expect([f, mode(join(dir, f))]).toEqual([f, 0o600]);
      s.close();
    } finally {
      process.umask(old);
    }
  });

  test("modes are put right on files that already exist; an existing directory keeps its mode", () => {
    const dir = closedStore(3);
    const file = join(dir, DB_FILE);
    const outside = new Database(file); // keeps the -wal and -shm files in place
    outside.query("SELECT count(*) FROM jobs").get();
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
    chmodSync(dir, 0o755);
    const s = SqliteStateStore.open(dir);
    expect(mode(dir)).toBe(0o755);
    expect(readdirSync(dir).sort()).toEqual([DB_FILE, `${DB_FILE}-shm`, `${DB_FILE}-wal`, LOCK_FILE]);
    for (const f of readdirSync(dir)) expect([f, mode(join(dir, f))]).toEqual([f, 0o600]);
    expect(s.jobs.count()).toBe(3);
    s.close();
    outside.close();
  });

  test("a directory others can write to is refused", () => {
    for (const m of [0o777, 0o1777, 0o770]) {
      const dir = freshDir();
      mkdirSync(dir);
      chmodSync(dir, m);
      const e = openError(dir);
      expect(e.message).toBe(
        `state directory ${dir} is writable by other users (mode ${m.toString(8).padStart(4, "0")}). Nothing was changed. Give the state a directory of its own that only joblet can write, e.g. chmod 700 ${dir}.`,
      );
      expect(readdirSync(dir)).toEqual([]);
      expect(mode(dir)).toBe(m & 0o777);
    }
  });

  test("one process at a time: a second open of the directory is refused until the first closes", () => {
    const dir = freshDir();
    const first = SqliteStateStore.open(dir);
    const e = openError(dir);
    expect(e.message).toBe(
      `state directory ${dir} is in use by another joblet process (it holds the lock on ${join(dir, LOCK_FILE)}). Nothing was changed. Stop that process, or give this one its own state.local.directory.`,
    );
    first.jobs.put(job(1));
    first.close();
    const second = SqliteStateStore.open(dir);
    expect(second.jobs.count()).toBe(1);
    second.close();
  });

  test("the lock dies with a SIGKILLed process", async () => {
    const dir = freshDir();
    await putThenSigkill(dir, 0, 1);
    const s = SqliteStateStore.open(dir);
    expect(s.jobs.count()).toBe(1);
    s.close();
  }, 30_000);
});

describe("local state: schema migrations", () => {
  const userVersion = (file: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    } finally {
      db.close();
    }
  };

  test("an empty file is version 0 and is migrated to the current version", () => {
    const dir = freshDir();
    mkdirSync(dir);
    writeFileSync(join(dir, DB_FILE), "");
    const s = SqliteStateStore.open(dir);
    expect(s.migratedFrom).toBe(0);
    expect(s.info().schemaVersion).toBe(SCHEMA_VERSION);
    s.jobs.put(job(1));
    s.close();
    expect(userVersion(join(dir, DB_FILE))).toBe(SCHEMA_VERSION);
  });

  test("an SQLite database at version 0 with no tables is migrated", () => {
    const dir = freshDir();
    mkdirSync(dir);
    const db = new Database(join(dir, DB_FILE));
    db.run("PRAGMA journal_mode = DELETE");
    db.run("VACUUM");
    db.close();
    expect(statSync(join(dir, DB_FILE)).size).toBeGreaterThan(0);
    const s = SqliteStateStore.open(dir);
    expect(s.migratedFrom).toBe(0);
    expect(s.info()).toMatchObject({ schemaVersion: SCHEMA_VERSION, journalMode: "wal" });
    expect(s.jobs.count()).toBe(0);
    s.close();
  });

  test("steps run in order, once each, in one transaction", () => {
    const dir = freshDir();
    const ran: number[] = [];
    const step =
      (v: number, sql: string): Migration =>
      (db) => {
        ran.push(v);
        db.run(sql);
      };
    const m1 = step(1, `CREATE TABLE jobs (id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL, updated_at INTEGER NOT NULL)`);
    const m2 = step(2, `CREATE TABLE volumes (id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL, updated_at INTEGER NOT NULL)`);
    const m3 = step(3, `INSERT INTO volumes VALUES ('v1', '{"uuid":"v1","size":1}', 0)`);

    let s = SqliteStateStore.open(dir, { migrations: [m1] });
    expect([s.migratedFrom, s.info().schemaVersion]).toEqual([0, 1]);
    s.jobs.put(job(1));
    s.close();

    s = SqliteStateStore.open(dir, { migrations: [m1, m2, m3] });
    expect([s.migratedFrom, s.info().schemaVersion]).toEqual([1, 3]);
    expect(ran).toEqual([1, 2, 3]);
    expect(s.table("volumes").list()).toEqual([{ uuid: "v1", size: 1 }]); // loaded after migrating
    expect(s.jobs.count()).toBe(1);
    s.close();

    // a failing step: everything since the stored version rolls back
    const m4 = step(4, `CREATE TABLE networks (id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL, updated_at INTEGER NOT NULL)`);
    const m5: Migration = () => {
      throw new Error("step five is broken");
    };
    const e = openError(dir, { migrations: [m1, m2, m3, m4, m5] });
    expect(e.message).toBe(`state database ${join(dir, DB_FILE)}: the migration to schema version 5 failed (step five is broken). Nothing was changed: the migrations were rolled back.`);
    s = SqliteStateStore.open(dir, { migrations: [m1, m2, m3] });
    expect(s.info().schemaVersion).toBe(3);
    expect(s.migratedFrom).toBe(3);
    expect(ran).toEqual([1, 2, 3, 4]);
    s.close();
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    expect(db.query("SELECT name FROM sqlite_schema WHERE name = 'networks'").all()).toEqual([]);
    db.close();
  });

  test("a database from a newer joblet is refused and left as it was", () => {
    const dir = closedStore(2);
    const file = join(dir, DB_FILE);
    const db = new Database(file);
    db.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const before = snapshot(dir);
    const e = openError(dir);
    expect(e.message).toBe(
      `state database ${file} was written by a newer joblet (schema version ${SCHEMA_VERSION + 1}; this joblet knows versions up to ${SCHEMA_VERSION}). ` +
        `Nothing was changed. Run a joblet that knows schema version ${SCHEMA_VERSION + 1}; or, to start with an empty state, move it aside: mv ${file} ${file}.broken (and its -wal and -shm files).`,
    );
    expect(readFileSync(file).equals(before.get(DB_FILE)!)).toBe(true);
    expect(userVersion(file)).toBe(SCHEMA_VERSION + 1);
  });
});

describe("local state: damaged database files are refused, never changed", () => {
  test("garbage bytes in joblet.db", () => {
    const dir = freshDir();
    mkdirSync(dir);
    const file = join(dir, DB_FILE);
    const garbage = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7919 + 13) % 251));
    writeFileSync(file, garbage);
    const e = openError(dir);
    expect(e.message).toBe(
      `state database ${file} is unreadable (file is not a database). Nothing was changed. To start with an empty state, move it aside: mv ${file} ${file}.broken (and its -wal and -shm files); or restore it from a backup.`,
    );
    expect(readFileSync(file).equals(garbage)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual([DB_FILE, LOCK_FILE]);
    // refused again, the same way, and the lock was released each time
    expect(openError(dir).message).toBe(e.message);
  });

  test("a file too short to be a database", () => {
    const dir = freshDir();
    mkdirSync(dir);
    writeFileSync(join(dir, DB_FILE), "SQLite format 3\0");
    expectRecoveryAdvice(openError(dir), join(dir, DB_FILE));
  });

  test("a database whose pages were overwritten fails the integrity check", () => {
    const dir = closedStore(500);
    const file = join(dir, DB_FILE);
    const size = statSync(file).size;
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.alloc(3 * 4096, 0x5a), 0, 3 * 4096, Math.floor(size / 4096 / 2) * 4096);
    closeSync(fd);
    const before = readFileSync(file);
    const e = openError(dir);
    expectRecoveryAdvice(e, file);
    expect(e.message).toMatch(/unreadable \((the integrity check failed: |database disk image is malformed)/);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  test("a truncated database", () => {
    const dir = closedStore(500);
    const file = join(dir, DB_FILE);
    truncateSync(file, Math.floor(statSync(file).size / 2 / 4096) * 4096);
    const before = readFileSync(file);
    const e = openError(dir);
    expectRecoveryAdvice(e, file);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  test("joblet.db that is not a regular file", () => {
    const dir = freshDir();
    mkdirSync(join(dir, DB_FILE), { recursive: true });
    const e = openError(dir);
    expect(e.message).toContain(`state database ${join(dir, DB_FILE)} is unreadable (it is not a regular file).`);
  });

  test("joblet.db that cannot be read", () => {
    // as root, the check runs in a child bun as nobody (root reads a file of mode 000)
    const asRoot = process.getuid?.() === 0;
    const dir = mkdtempSync(join(tmpdir(), "state-perm-"));
    try {
      chmodSync(dir, 0o755);
      const state = closedStore(1, join(dir, "state"));
      const file = join(state, DB_FILE);
      chmodSync(file, 0o000);
      let message: string;
      if (asRoot) {
        for (const f of [dir, state, file, join(state, LOCK_FILE)]) chownSync(f, 65534, 65534);
        const script = `const { SqliteStateStore } = require(${JSON.stringify(SQLITE_SRC)});
try { SqliteStateStore.open(${JSON.stringify(state)}); console.log("opened"); } catch (e) { console.log(e.name + ": " + e.message); }`;
        const r = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BUN, "-e", script]);
        message = r.stdout.toString().trim();
        expect(message).toStartWith("StateError: ");
        message = message.slice("StateError: ".length);
      } else {
        message = openError(state).message;
      }
      expect(message).toBe(
        `state database ${file} is unreadable (EACCES: permission denied, open '${file}'). Nothing was changed. To start with an empty state, move it aside: mv ${file} ${file}.broken (and its -wal and -shm files); or restore it from a backup.`,
      );
      expect(mode(file)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a row whose JSON does not parse names the table and the id", () => {
    const dir = closedStore(3);
    const file = join(dir, DB_FILE);
    const bad = job(1).uuid;
    let db = new Database(file);
    db.run("UPDATE jobs SET body = ? WHERE id = ?", ['{"uuid": "' + bad + '", "name": "job-1", ', bad]);
    db.close();
    const before = snapshot(dir);
    const e = openError(dir);
    expectRecoveryAdvice(e, file);
    expect(e.message).toContain(`(table jobs, id ${bad}: the body is not valid JSON: `);
    expect(readFileSync(file).equals(before.get(DB_FILE)!)).toBe(true);

    // in a generic table, and a body that parses but is not the row's record
    const dir2 = freshDir();
    const s = SqliteStateStore.open(dir2);
    s.table("workflows").put({ uuid: "w1" });
    s.close();
    db = new Database(join(dir2, DB_FILE));
    db.run(`UPDATE workflows SET body = '{"uuid":"w2"}' WHERE id = 'w1'`);
    db.close();
    expect(openError(dir2).message).toContain("(table workflows, id w1: the body is not a record with uuid w1)");
  });

  test("a write-ahead log without its database is refused (SQLite would delete it)", async () => {
    const dir = freshDir();
    await putThenSigkill(dir, 0, 5);
    const file = join(dir, DB_FILE);
    const wal = `${file}-wal`;
    const walBytes = readFileSync(wal);
    rmSync(file);
    let e = openError(dir);
    expect(e.message).toBe(
      `state database ${file} is missing but its write-ahead log ${wal} holds ${walBytes.length} bytes. Nothing was changed. ` +
        `Restore ${file} from a backup; or, to start with an empty state, move the log aside: mv ${wal} ${wal}.broken (and ${file}-shm if present).`,
    );
    expect(existsSync(file)).toBe(false);
    writeFileSync(file, "");
    e = openError(dir);
    expect(e.message).toStartWith(`state database ${file} is empty but its write-ahead log ${wal} holds ${walBytes.length} bytes.`);
    expect(readFileSync(wal).equals(walBytes)).toBe(true);
    expect(statSync(file).size).toBe(0);
  }, 30_000);
});

// A damaged write-ahead log is handled the way SQLite handles it, which is silently: it replays
// the log's frames up to the last commit whose frames and checksums are intact, ignores the rest,
// and overwrites the log on the next write. Observed with bun's SQLite 3.54.1: a garbage log (or
// a garbage log header) loses every commit that was only in the log; a truncated log, or one
// with a damaged frame in the middle, keeps a prefix of the commits (those before the damage).
// No error is raised, and a lost or garbage -shm file is rebuilt from the log.
describe("local state: a damaged write-ahead log (SQLite's own recovery)", () => {
  // 50 jobs checkpointed into joblet.db, then 200 more that are only in the log (SIGKILL)
  let base = "";
  const damaged = async (damage: (wal: string) => void): Promise<number[]> => {
    if (!base) {
      base = closedStore(50);
      await putThenSigkill(base, 50, 200);
    }
    const dir = freshDir();
    cpSync(base, dir, { recursive: true });
    damage(join(dir, `${DB_FILE}-wal`));
    const s = SqliteStateStore.open(dir);
    const ids = s.jobs
      .list()
      .map((j) => Number(j.name.slice(4)))
      .sort((a, b) => a - b);
    s.jobs.put(job(10_000)); // and it is writable
    s.close();
    return ids;
  };
  const range = (k: number) => Array.from({ length: k }, (_, i) => i);

  test("intact: every commit is replayed", async () => {
    expect(await damaged(() => {})).toEqual(range(250));
  }, 30_000);

  test("garbage log: the commits only in the log are gone, without an error", async () => {
    const ids = await damaged((wal) => writeFileSync(wal, Buffer.alloc(statSync(wal).size, 0xa5)));
    expect(ids).toEqual(range(50));
  }, 30_000);

  test("garbage log header: the same", async () => {
    const ids = await damaged((wal) => {
      const fd = openSync(wal, "r+");
      writeSync(fd, Buffer.alloc(32, 0xab), 0, 32, 0);
      closeSync(fd);
    });
    expect(ids).toEqual(range(50));
  }, 30_000);

  test("truncated log: a prefix of the commits survives", async () => {
    const ids = await damaged((wal) => truncateSync(wal, Math.floor(statSync(wal).size / 2)));
    expect(ids.length).toBeGreaterThan(50);
    expect(ids.length).toBeLessThan(250);
    expect(ids).toEqual(range(ids.length));
  }, 30_000);

  test("a damaged frame mid-log: the commits before it survive", async () => {
    const ids = await damaged((wal) => {
      const fd = openSync(wal, "r+");
      writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(statSync(wal).size / 2));
      closeSync(fd);
    });
    expect(ids.length).toBeGreaterThan(50);
    expect(ids.length).toBeLessThan(250);
    expect(ids).toEqual(range(ids.length));
  }, 30_000);

  test("lost or garbage shared-memory file: rebuilt, nothing lost", async () => {
    expect(await damaged((wal) => rmSync(wal.replace(/-wal$/, "-shm")))).toEqual(range(250));
    expect(await damaged((wal) => writeFileSync(wal.replace(/-wal$/, "-shm"), Buffer.alloc(32 * 1024, 0x77)))).toEqual(range(250));
  }, 30_000);
});

describe("openStateStore", () => {
  test("memory, local, and dynamodb refused", () => {
    const mem = openStateStore({ backend: "memory", local: { directory: "/nonexistent/never/created" } });
    expect(mem).toBeInstanceOf(MemoryStateStore);
    expect(existsSync("/nonexistent/never/created")).toBe(false);
    mem.close();
    const dir = freshDir();
    const local = openStateStore({ backend: "local", local: { directory: dir } });
    expect(local).toBeInstanceOf(SqliteStateStore);
    expect(local.backend).toBe("local");
    expect(existsSync(join(dir, DB_FILE))).toBe(true);
    local.close();
    expect(() => openStateStore({ backend: "dynamodb", local: { directory: freshDir() } })).toThrow(/state.backend "dynamodb" is not implemented yet/);
  });

  test("a directory that cannot be made", () => {
    const file = join(freshDir() + "-file");
    writeFileSync(file, "x");
    expect(() => openStateStore({ backend: "local", local: { directory: join(file, "state") } })).toThrow(StateError);
  });
});
