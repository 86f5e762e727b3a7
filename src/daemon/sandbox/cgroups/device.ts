// The whole disk behind a path, as "MAJ:MIN": io.max and blkio throttles apply to whole devices.
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";

export function diskOf(path: string, sys = "/sys/dev/block"): string | undefined {
  const dev = statSync(path).dev;
  const major = Math.floor(dev / 256) & 0xfff; // glibc's major()/minor() encoding
  const minor = (dev & 0xff) | ((Math.floor(dev / 4096) & 0xfff00));
  if (major === 0) return undefined; // tmpfs, overlay, …: no block device
  const node = join(sys, `${major}:${minor}`);
  if (!existsSync(node)) return undefined;
  // a partition's sysfs entry sits inside its disk's
  if (existsSync(join(node, "partition"))) return readFileSync(join(realpathSync(node), "..", "dev"), "utf8").trim();
  return `${major}:${minor}`;
}
