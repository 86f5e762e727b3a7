// Picks the cgroup driver at start: unified v2 when the controllers live there, v1 when they
// are bound to legacy hierarchies (hybrid hosts, such as this project's machines); or as forced
// by cgroup.version.
import { join } from "node:path";
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

/** `name`: this daemon's directory in each hierarchy (joblet-<port>: unique among running daemons, stable across restarts) */
export function selectDriver(version: "auto" | "v1" | "v2", name: string, wanted: readonly Controller[], accounting = true, h = readHierarchies()): CgroupDriver {
  const detected = detectVersion(h);
  const chosen = version === "auto" ? detected : version;
  if (!chosen) throw new Error("no cgroup hierarchy is mounted: jobs cannot be limited");
  if (chosen === "v2") {
    if (!h.unified) throw new Error("cgroup.version is v2, but no cgroup2 hierarchy is mounted");
    const own = h.own.get("") ?? "/";
    return new CgroupV2Driver(join(h.unified, own), own === "/", name, wanted);
  }
  if (h.v1.size === 0) throw new Error("cgroup.version is v1, but no cgroup v1 hierarchy is mounted");
  return new CgroupV1Driver(h, name, wanted, accounting);
}
