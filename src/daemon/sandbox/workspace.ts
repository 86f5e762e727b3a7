// Job workspaces on the host: <filesystem.baseDir>/<uuid>/work, bound at /work in the job.
// baseDir is root's (0700), so host users cannot reach into a job's files either.
import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

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
    const jobDir = join(this.baseDir, uuid);
    mkdirSync(jobDir, { mode: 0o700 });
    const work = join(jobDir, "work");
    mkdirSync(work, { mode: 0o700 });
    chownSync(work, this.owner.uid, this.owner.gid);
    return work;
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
