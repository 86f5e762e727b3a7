// The job user and group: names from process.default_user/default_group resolved through the
// host's /etc/passwd and /etc/group (numeric ids are taken as they are).
import { readFileSync } from "node:fs";

export interface JobUser {
  uid: number;
  gid: number;
  user: string;
  group: string;
}

function lookup(file: string, name: string, idField: number): { name: string; id: number } | undefined {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length <= idField) continue;
    if (f[0] === name || (/^\d+$/.test(name) && f[idField] === name)) return { name: f[0]!, id: Number(f[idField]) };
  }
  return undefined;
}

/** Throws if a name is unknown; root (uid or gid 0) is refused: jobs never run as root. */
export function resolveJobUser(user: string, group: string, files = { passwd: "/etc/passwd", group: "/etc/group" }): JobUser {
  const u = lookup(files.passwd, user, 2) ?? (/^\d+$/.test(user) ? { name: user, id: Number(user) } : undefined);
  if (!u) throw new Error(`process.default_user: no user "${user}" in ${files.passwd}`);
  const g = lookup(files.group, group, 2) ?? (/^\d+$/.test(group) ? { name: group, id: Number(group) } : undefined);
  if (!g) throw new Error(`process.default_group: no group "${group}" in ${files.group}`);
  if (u.id === 0 || g.id === 0) throw new Error("process.default_user/default_group: jobs never run as root (uid or gid 0)");
  return { uid: u.id, gid: g.id, user: u.name, group: g.name };
}
