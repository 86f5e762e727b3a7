// One file per job in a directory, named <uuid><suffix>: the logs and the metrics history. What
// retention and restart recovery need of them: the path, the size, which jobs have one, removal.
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

/** Bytes in the file, or 0 if there is none. */
export function fileSize(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

export class JobFiles {
  constructor(
    readonly dir: string,
    private readonly suffix: string,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  path(uuid: string): string {
    return join(this.dir, `${uuid}${this.suffix}`);
  }

  size(uuid: string): number {
    return fileSize(this.path(uuid));
  }

  /** Uuids of every job with a file here. */
  uuids(): string[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(this.suffix))
      .map((f) => f.slice(0, -this.suffix.length));
  }

  remove(uuid: string): void {
    rmSync(this.path(uuid), { force: true });
  }
}
