// Files sent with RunJob: checked before anything touches the disk, then written into the job's
// new workspace, owned by the job user. Paths are relative to the workspace; anything that could
// land elsewhere, or be more than a plain file or directory, is refused naming the path.
import { chmodSync, chownSync, closeSync, constants, fchmodSync, fchownSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { quote } from "../../config/values";
import { invalid } from "../errors";

export interface Upload {
  path: string;
  content: Uint8Array;
  mode: number;
  isDirectory: boolean;
}

export interface UploadLimits {
  maxTotalBytes: number;
  maxFiles: number;
}

// Go's os.FileMode type bits, as Joblet's Go client sends them, and Unix S_IFMT bits.
const GO_TYPE_BITS = 0x8000000 /* symlink */ | 0x4000000 /* device */ | 0x2000000 /* pipe */ | 0x1000000 /* socket */ | 0x200000 /* char device */ | 0x80000 /* irregular */;
const GO_DIR = 0x80000000;
const S_IFMT = 0o170000;

/** Normalized relative path, or an INVALID_ARGUMENT naming it. */
export function uploadPath(raw: string): string {
  if (raw === "") throw invalid("uploads: a path is empty");
  if (Buffer.byteLength(raw) > 4096) throw invalid(`uploads: path ${quote(raw, 60)} is longer than 4096 bytes`);
  const shown = quote(raw, 200);
  if (raw.includes("\0")) throw invalid(`uploads: path ${shown} contains a NUL byte`);
  if (raw.startsWith("/")) throw invalid(`uploads: path ${shown} is absolute; paths are relative to the workspace (/work)`);
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw invalid(`uploads: path ${shown} leaves the workspace ("..")`);
  if (parts.length === 0) throw invalid(`uploads: path ${shown} names the workspace itself`);
  if (parts.length > 64) throw invalid(`uploads: path ${shown} is nested deeper than 64 directories`);
  if (parts.some((p) => Buffer.byteLength(p) > 255)) throw invalid(`uploads: path ${shown} has a name longer than 255 bytes`);
  return parts.join("/");
}

/** Permission bits to create with; anything but a plain file or directory is refused. */
export function uploadMode(u: Upload, path: string): number {
  const m = u.mode >>> 0;
  const unixType = m & S_IFMT;
  const typeOk = unixType === 0 || unixType === (u.isDirectory ? 0o040000 : 0o100000);
  if (!typeOk || m & GO_TYPE_BITS) throw invalid(`uploads: ${JSON.stringify(path)} is not a regular file or directory (devices, pipes, sockets and symlinks are refused)`);
  if (!u.isDirectory && m & GO_DIR) throw invalid(`uploads: ${JSON.stringify(path)} has a directory mode but is not marked is_directory`);
  const perm = m & 0o777; // setuid, setgid and sticky bits are dropped
  return perm || (u.isDirectory ? 0o755 : 0o644);
}

export interface CheckedUpload {
  path: string;
  mode: number;
  isDirectory: boolean;
  content: Uint8Array;
}

export function checkUploads(uploads: Upload[], limits: UploadLimits): CheckedUpload[] {
  if (uploads.length > limits.maxFiles) throw invalid(`uploads: ${uploads.length} entries; at most ${limits.maxFiles} are accepted`);
  const seen = new Map<string, boolean>();
  let total = 0;
  const out: CheckedUpload[] = [];
  for (const u of uploads) {
    const path = uploadPath(u.path);
    const mode = uploadMode(u, path);
    if (seen.has(path)) throw invalid(`uploads: ${JSON.stringify(path)} appears twice`);
    if (u.isDirectory && u.content.length) throw invalid(`uploads: directory ${JSON.stringify(path)} has content`);
    total += u.content.length;
    if (total > limits.maxTotalBytes) {
      throw invalid(`uploads: ${JSON.stringify(path)} takes the upload past ${limits.maxTotalBytes} bytes (filesystem.workspace.max_upload_size)`);
    }
    seen.set(path, u.isDirectory);
    out.push({ path, mode, isDirectory: u.isDirectory, content: u.content });
  }
  // a file may not also be used as a directory
  for (const path of seen.keys()) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (seen.get(parent) === false) throw invalid(`uploads: ${JSON.stringify(path)} is inside ${JSON.stringify(parent)}, which is a file`);
    }
  }
  return out;
}

/**
 * Writes checked uploads below `root` (a directory this daemon just created, which nothing else
 * can have changed), as the job user. O_NOFOLLOW|O_EXCL: nothing is followed or overwritten.
 */
export function writeUploads(root: string, uploads: CheckedUpload[], owner: { uid: number; gid: number }): void {
  const made = new Set<string>();
  const mkdirs = (rel: string, mode = 0o755) => {
    const parts = rel.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const sub = parts.slice(0, i).join("/");
      if (made.has(sub)) continue;
      const full = join(root, sub);
      mkdirSync(full);
      chmodSync(full, i === parts.length ? mode : 0o755); // exact mode, whatever the daemon's umask
      chownSync(full, owner.uid, owner.gid);
      made.add(sub);
    }
  };
  // directories first (so their modes are their own), then files
  for (const u of uploads.filter((x) => x.isDirectory).sort((a, b) => a.path.length - b.path.length)) if (!made.has(u.path)) mkdirs(u.path, u.mode);
  for (const u of uploads.filter((x) => !x.isDirectory)) {
    const dir = u.path.includes("/") ? u.path.slice(0, u.path.lastIndexOf("/")) : "";
    if (dir) mkdirs(dir);
    const fd = openSync(join(root, u.path), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, u.mode);
    try {
      for (let off = 0; off < u.content.length; ) off += writeSync(fd, u.content, off);
      fchmodSync(fd, u.mode);
      fchownSync(fd, owner.uid, owner.gid);
    } finally {
      closeSync(fd);
    }
  }
}
