// The scheduler's parts: the timetable (jobs due at a time), the run queue (maxConcurrentJobs and
// its bound) and the secret box that seals waiting jobs' secrets in the state directory.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunQueue } from "../../src/daemon/jobs/run-queue";
import { Timetable } from "../../src/daemon/jobs/timetable";
import { SecretBox } from "../../src/daemon/state/secret-box";

const work = mkdtempSync(join(tmpdir(), "scheduling-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("Timetable", () => {
  test("calls each entry once, in time order; a replaced or removed entry is not called", async () => {
    const calls: string[] = [];
    const t = new Timetable((uuid) => calls.push(uuid));
    const now = Date.now();
    t.at("c", now + 60);
    t.at("a", now + 20);
    t.at("b", now + 40);
    t.at("gone", now + 30);
    t.remove("gone");
    t.at("moved", now + 10);
    t.at("moved", now + 80); // replaces
    t.at("past", now - 1000); // already due: at once
    expect(t.size).toBe(5);
    await Bun.sleep(150);
    expect(calls).toEqual(["past", "a", "b", "c", "moved"]);
    expect(t.size).toBe(0);
  });

  test("an entry whose time has not come when the timer fires (the clock moved back) waits for it", async () => {
    let clock = 1_000_000;
    const calls: string[] = [];
    const t = new Timetable((uuid) => calls.push(uuid), () => clock);
    t.at("x", clock + 5); // armed for 5 ms
    clock -= 10_000; // the wall clock jumps back: at fire time it is not due
    await Bun.sleep(30);
    expect(calls).toEqual([]);
    expect(t.has("x")).toBe(true);
    clock += 20_000;
    t.at("y", clock); // re-arms: both are due now
    await Bun.sleep(30);
    expect(calls.sort()).toEqual(["x", "y"]);
    t.stop();
  });

  test("stop: nothing is called afterwards", async () => {
    const calls: string[] = [];
    const t = new Timetable((uuid) => calls.push(uuid));
    t.at("a", Date.now() + 10);
    t.stop();
    t.at("b", Date.now());
    await Bun.sleep(40);
    expect(calls).toEqual([]);
  });
});

describe("RunQueue", () => {
  test("slots up to maxRunning, then first come first served, bounded", () => {
    const q = new RunQueue(2, 2);
    expect([q.tryStart(), q.tryStart(), q.tryStart()]).toEqual([true, true, false]);
    expect(q.full).toBe(false);
    q.enqueue("a");
    q.enqueue("b");
    expect(q.full).toBe(true);
    expect([q.position("a"), q.position("b"), q.position("x")]).toEqual([1, 2, 0]);
    expect(q.next()).toBeUndefined(); // no free slot
    q.release();
    expect(q.next()).toBe("a");
    expect(q.active).toBe(2);
    expect(q.remove("b")).toBe(true);
    expect(q.remove("b")).toBe(false);
    q.release();
    q.release();
    q.release(); // never below zero
    expect(q.active).toBe(0);
    expect(q.next()).toBeUndefined(); // empty
  });
});

describe("SecretBox", () => {
  test("seals and opens; the sealed text shows nothing of the values and differs every time", () => {
    const box = SecretBox.ephemeral();
    const values = { TOKEN: "s3cr3t-value", EMPTY: "", "UNICODE": "ключ ✓" };
    const a = box.seal(values);
    const b = box.seal(values);
    expect(a).not.toBe(b);
    expect(a).not.toContain("s3cr3t");
    expect(Buffer.from(a.slice(3), "base64").toString("latin1")).not.toContain("s3cr3t");
    expect(box.open(a)).toEqual(values);
  });

  test("a tampered text, or another key, cannot open it", () => {
    const box = SecretBox.ephemeral();
    const sealed = box.seal({ A: "b" });
    const raw = Buffer.from(sealed.slice(3), "base64");
    raw[raw.length - 1]! ^= 1;
    expect(() => box.open(`v1:${raw.toString("base64")}`)).toThrow();
    expect(() => SecretBox.ephemeral().open(sealed)).toThrow();
    expect(() => box.open("plain")).toThrow("unknown format");
  });

  test("the key lives in <dir>/secrets.key (0600), created once and read back by the next daemon", () => {
    const dir = mkdtempSync(join(work, "key-"));
    const sealed = SecretBox.forDirectory(dir).seal({ K: "v" });
    const file = join(dir, "secrets.key");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).length).toBe(32);
    expect(SecretBox.forDirectory(dir).open(sealed)).toEqual({ K: "v" });
  });

  test("a key others can read, or a file of the wrong size, is refused with what to do", () => {
    const dir = mkdtempSync(join(work, "bad-"));
    SecretBox.forDirectory(dir);
    const file = join(dir, "secrets.key");
    chmodSync(file, 0o644);
    expect(() => SecretBox.forDirectory(dir)).toThrow(`run: chmod 600 ${file}`);
    writeFileSync(file, "short", { mode: 0o600 });
    chmodSync(file, 0o600);
    expect(() => SecretBox.forDirectory(dir)).toThrow("is not a 32-byte file");
  });
});
