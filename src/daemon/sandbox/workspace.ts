// Job workspaces on the host: <filesystem.baseDir>/<uuid>/work, bound at /work in the job.
// baseDir is root's (0700), so host users cannot reach into a job's files either.
import { chmodSync, chownSync, copyFileSync, constants, lstatSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { chown, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";

export class Workspaces {
  constructor(
    private readonly baseDir: string,
    private readonly owner: { uid: number; gid: number },
  ) {
    mkdirSync(baseDir, { recursive: true, mode: 0o700 });
    chmodSync(baseDir, 0o700);
  }

  /** A new, empty workspace owned by the job user. */
  create(uuid: string): string {
    const work = this.path(uuid);
    mkdirSync(dirname(work), { mode: 0o700 });
    mkdirSync(work, { mode: 0o700 });
    chownSync(work, this.owner.uid, this.owner.gid);
    return work;
  }

  /** create(), off the event loop (a directory operation can wait behind the disk's journal). */
  async make(uuid: string): Promise<string> {
    const work = this.path(uuid);
    await mkdir(dirname(work), { mode: 0o700 });
    await mkdir(work, { mode: 0o700 });
    await chown(work, this.owner.uid, this.owner.gid);
    return work;
  }

  /** remove(), off the event loop. */
  discard(uuid: string): Promise<void> {
    return rm(join(this.baseDir, uuid), { recursive: true, force: true });
  }

  /**
   * A new workspace with a copy of another's files (a recurring schedule's uploads for each run).
   * The source is a workspace no job ever ran in, so it holds only the daemon's own plain files
   * and directories; anything else is refused rather than followed.
   */
  copy(from: string, to: string): string {
    const dst = this.create(to);
    const walk = (src: string, out: string) => {
      for (const name of readdirSync(src)) {
        const s = join(src, name);
        const d = join(out, name);
        const st = lstatSync(s);
        if (st.isDirectory()) {
          mkdirSync(d);
          walk(s, d);
        } else if (st.isFile()) copyFileSync(s, d, constants.COPYFILE_EXCL);
        else throw new Error(`workspace ${from}: ${s} is not a plain file or directory`);
        chmodSync(d, st.mode & 0o7777);
        chownSync(d, st.uid, st.gid);
      }
    };
    walk(this.path(from), dst);
    return dst;
  }

  path(uuid: string): string {
    return join(this.baseDir, uuid, "work");
  }

  /** Uuids of every job directory under baseDir. */
  stored(): string[] {
    return readdirSync(this.baseDir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  }

  remove(uuid: string): void {
    rmSync(join(this.baseDir, uuid), { recursive: true, force: true });
  }
}
