// Picks the cgroup driver at start: unified v2 when the controllers live there, v1 when they
// are bound to legacy hierarchies (hybrid hosts, such as this project's machines); or as forced
// by cgroup.version.
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import type { CgroupDriver } from "./driver";
import { readHierarchies, type Controller, type Hierarchies } from "./hierarchy";
import { CgroupV1Driver } from "./v1";
import { CgroupV2Driver, v2Controllers } from "./v2";

export function detectVersion(h: Hierarchies): "v1" | "v2" | undefined {
  const v2Usable = h.unified ? v2Controllers(join(h.unified, h.own.get("") ?? "/")).size > 0 : false;
  if (v2Usable && !["cpu", "memory", "pids"].some((c) => h.v1.has(c))) return "v2";
  if (h.v1.size > 0) return "v1";
  return h.unified ? "v2" : undefined;
}

/**
 * Where a hierarchy's job cgroups go: cgroup.baseDir when it exists there and the daemon is not
 * already inside it (an administrator or systemd delegated it), otherwise the daemon's own cgroup.
 * baseDir is written as a v2 path (/sys/fs/cgroup/joblet.slice); in a v1 hierarchy the same
 * relative path is looked up below that hierarchy's mount.
 */
export function parentIn(mount: string, own: string, baseDir: string): { dir: string; delegated: boolean } {
  const rel = relative("/sys/fs/cgroup", baseDir);
  const ownDir = join(mount, own).replace(/(.)\/$/, "$1");
  if (rel && !rel.startsWith("..")) {
    const base = join(mount, rel);
    if (existsSync(base) && !`${ownDir}/`.startsWith(`${base}/`)) return { dir: base, delegated: true };
  }
  return { dir: ownDir, delegated: false };
}

/** `name`: this daemon's directory in each hierarchy (joblet-<port>: unique among running daemons, stable across restarts) */
export function selectDriver(
  version: "auto" | "v1" | "v2",
  baseDir: string,
  name: string,
  wanted: readonly Controller[],
  accounting = true,
  h = readHierarchies(),
): CgroupDriver {
  const detected = detectVersion(h);
  const chosen = version === "auto" ? detected : version;
  if (!chosen) throw new Error("no cgroup hierarchy is mounted: jobs cannot be limited");
  if (chosen === "v2") {
    if (!h.unified) throw new Error("cgroup.version is v2, but no cgroup2 hierarchy is mounted");
    const own = h.own.get("") ?? "/";
    const parent = parentIn(h.unified, own, baseDir);
    // the daemon leaves its own cgroup only when jobs go below it and it is not the root
    return new CgroupV2Driver(parent.dir, !parent.delegated && own !== "/", name, wanted);
  }
  if (h.v1.size === 0) throw new Error("cgroup.version is v1, but no cgroup v1 hierarchy is mounted");
  return new CgroupV1Driver(h, (hierarchy) => parentIn(h.v1.get(hierarchy)!, h.own.get(hierarchy) ?? "/", baseDir).dir, h.unified ? parentIn(h.unified, h.own.get("") ?? "/", baseDir).dir : undefined, name, wanted, accounting);
}
