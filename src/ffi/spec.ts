// Encodes a job's spawn spec into the flat record buffer libjoblet parses (csrc/joblet.h):
// u16 tag, u32 length, payload; strings NUL-terminated, integers little-endian.

export const Tag = {
  ARG: 1,
  ENV: 2,
  ROOT: 3,
  BIND_RO: 4,
  BIND_RW: 5,
  SYMLINK: 6,
  FILE: 7,
  CWD: 8,
  HOSTNAME: 9,
  UID: 10,
  GID: 11,
  TMP_OPTIONS: 12,
  CGROUP_PROCS: 13,
  NETNS_FD: 14,
  NAMESPACES: 15,
  RLIMIT: 16,
  INIT_FD: 17,
  MASK: 18,
  READONLY: 19,
  ROOT_WRITABLE: 20,
  CGROUP_FD: 21,
  LOG_FD: 22,
  LOG_LIMIT: 23,
  LIFELINE_FD: 24,
} as const;

export const Namespace = { NET: 1, IPC: 2, UTS: 4, CGROUP: 8 } as const;

/** RLIMIT_* numbers on Linux. */
export const Rlimit = { CPU: 0, FSIZE: 1, DATA: 2, STACK: 3, CORE: 4, NPROC: 6, NOFILE: 7, MEMLOCK: 8, AS: 9 } as const;
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

export interface SpawnSpec {
  /** the job's command line; argv[0] is looked up in the job's PATH by joblet-init */
  argv: string[];
  /** the complete environment, "NAME=value" */
  env: string[];
  /** an empty host directory the tmpfs root is mounted on (inside the job's mount namespace only) */
  root: string;
  binds: { src: string; dst: string; writable?: boolean }[];
  symlinks: { target: string; path: string }[];
  files: { path: string; content: string }[];
  cwd: string;
  hostname: string;
  uid: number;
  gid: number;
  tmpOptions: string;
  /** cgroup.procs files the child joins first thing (cgroup v1 hierarchies) */
  cgroupProcs: string[];
  /** a cgroup2 directory fd: the job is born in it (clone3 CLONE_INTO_CGROUP) */
  cgroupFd?: number;
  netnsFd?: number;
  /** Namespace flags beyond the always-new pid and mount namespaces */
  namespaces: number;
  rlimits: { resource: number; soft: bigint; hard: bigint }[];
  initFd: number;
  /** the job's log file, opened for appending: joblet-init writes the output there */
  logFd: number;
  /** bytes of output kept (0: no limit) */
  logLimit: number;
  /** the daemon's lifeline (EOF: the daemon died, init kills the job) */
  lifelineFd: number;
  masks: string[];
  readonly: string[];
  rootWritable: boolean;
}

/** What the sandbox template describes; the job's log and the daemon's lifeline are added at launch. */
export type SandboxSpec = Omit<SpawnSpec, "logFd" | "logLimit" | "lifelineFd">;

export function encodeSpec(s: SpawnSpec): Uint8Array {
  const parts: Uint8Array[] = [];
  const record = (tag: number, payload: Uint8Array) => {
    const head = new Uint8Array(6);
    const dv = new DataView(head.buffer);
    dv.setUint16(0, tag, true);
    dv.setUint32(2, payload.length, true);
    parts.push(head, payload);
  };
  const text = (...strings: string[]) => new Uint8Array(Buffer.from(strings.map((x) => `${x}\0`).join("")));
  const u32 = (v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return b;
  };
  const i32 = (v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    return b;
  };

  record(Tag.ROOT, text(s.root)); // first: the mount records resolve their paths below it
  for (const a of s.argv) record(Tag.ARG, text(a));
  for (const e of s.env) record(Tag.ENV, text(e));
  for (const b of s.binds) record(b.writable ? Tag.BIND_RW : Tag.BIND_RO, text(b.src, b.dst));
  for (const l of s.symlinks) record(Tag.SYMLINK, text(l.target, l.path));
  for (const f of s.files) record(Tag.FILE, new Uint8Array(Buffer.concat([Buffer.from(`${f.path}\0`), Buffer.from(f.content)])));
  record(Tag.CWD, text(s.cwd));
  record(Tag.HOSTNAME, text(s.hostname));
  record(Tag.UID, u32(s.uid));
  record(Tag.GID, u32(s.gid));
  record(Tag.TMP_OPTIONS, text(s.tmpOptions));
  for (const c of s.cgroupProcs) record(Tag.CGROUP_PROCS, text(c));
  if (s.netnsFd !== undefined) record(Tag.NETNS_FD, i32(s.netnsFd));
  if (s.cgroupFd !== undefined) record(Tag.CGROUP_FD, i32(s.cgroupFd));
  record(Tag.NAMESPACES, u32(s.namespaces));
  for (const r of s.rlimits) {
    const b = new Uint8Array(20);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, r.resource, true);
    dv.setBigUint64(4, r.soft, true);
    dv.setBigUint64(12, r.hard, true);
    record(Tag.RLIMIT, b);
  }
  record(Tag.INIT_FD, i32(s.initFd));
  record(Tag.LOG_FD, i32(s.logFd));
  const limit = new Uint8Array(8);
  new DataView(limit.buffer).setBigUint64(0, BigInt(s.logLimit), true);
  record(Tag.LOG_LIMIT, limit);
  record(Tag.LIFELINE_FD, i32(s.lifelineFd));
  for (const m of s.masks) record(Tag.MASK, text(m));
  for (const r of s.readonly) record(Tag.READONLY, text(r));
  if (s.rootWritable) record(Tag.ROOT_WRITABLE, new Uint8Array(0));
  return new Uint8Array(Buffer.concat(parts));
}
