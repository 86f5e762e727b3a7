// Role-based access control: one table gives every RPC exactly one permission, another gives
// each role its permissions. The role comes from the client certificate's OU (see identity.ts).
// Dependency-free so the client (certs issue) can share the role names.

export const ROLES = ["admin", "maintainer", "developer", "viewer"] as const;
export type Role = (typeof ROLES)[number];
/** `reader` is accepted as another name for viewer (Joblet ADR-015). */
export const ROLE_ALIASES: Readonly<Record<string, Role>> = { reader: "viewer" };

export const PERMISSIONS = [
  "job:read",
  "job:run",
  "job:stop",
  "job:delete",
  "job:logs",
  "job:metrics",
  "job:telematics",
  "network:read",
  "network:create",
  "network:remove",
  "volume:read",
  "volume:create",
  "volume:remove",
  "runtime:read",
  "runtime:test",
  "runtime:validate",
  "runtime:build",
  "runtime:remove",
  "monitor:read",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Permissions that change something: their calls are audited with their outcome. */
export const MUTATING: ReadonlySet<Permission> = new Set<Permission>([
  "job:run",
  "job:stop",
  "job:delete",
  "network:create",
  "network:remove",
  "volume:create",
  "volume:remove",
  "runtime:test",
  "runtime:build",
  "runtime:remove",
]);

/** Every RPC of every service, by gRPC method path. A path missing here is refused. */
export const RPC_PERMISSIONS: Readonly<Record<string, Permission>> = {
  "/joblet.JobService/RunJob": "job:run",
  "/joblet.JobService/GetJobStatus": "job:read",
  "/joblet.JobService/StopJob": "job:stop",
  "/joblet.JobService/CancelJob": "job:stop",
  "/joblet.JobService/DeleteJob": "job:delete",
  "/joblet.JobService/DeleteAllJobs": "job:delete",
  "/joblet.JobService/GetJobLogs": "job:logs",
  "/joblet.JobService/ListJobs": "job:read",
  "/joblet.JobService/StreamJobMetrics": "job:metrics",
  "/joblet.JobService/GetJobMetrics": "job:metrics",
  "/joblet.JobService/StreamJobTelematics": "job:telematics",
  "/joblet.JobService/GetJobTelematics": "job:telematics",
  "/joblet.NetworkService/CreateNetwork": "network:create",
  "/joblet.NetworkService/ListNetworks": "network:read",
  "/joblet.NetworkService/RemoveNetwork": "network:remove",
  "/joblet.VolumeService/CreateVolume": "volume:create",
  "/joblet.VolumeService/ListVolumes": "volume:read",
  "/joblet.VolumeService/RemoveVolume": "volume:remove",
  "/joblet.MonitoringService/GetSystemStatus": "monitor:read",
  "/joblet.MonitoringService/StreamSystemMetrics": "monitor:read",
  "/joblet.RuntimeService/ListRuntimes": "runtime:read",
  "/joblet.RuntimeService/GetRuntimeInfo": "runtime:read",
  "/joblet.RuntimeService/TestRuntime": "runtime:test",
  "/joblet.RuntimeService/RemoveRuntime": "runtime:remove",
  "/joblet.RuntimeService/BuildRuntime": "runtime:build",
  "/joblet.RuntimeService/ValidateRuntimeYAML": "runtime:validate",
  // workflows are jobs: the same permissions as the job RPCs
  "/joblet.WorkflowService/RunWorkflow": "job:run",
  "/joblet.WorkflowService/GetWorkflowStatus": "job:read",
  "/joblet.WorkflowService/ListWorkflows": "job:read",
  "/joblet.WorkflowService/CancelWorkflow": "job:stop",
  "/joblet.WorkflowService/DeleteWorkflow": "job:delete",
};

const VIEWER: readonly Permission[] = [
  "job:read",
  "job:logs",
  "job:metrics",
  "job:telematics",
  "network:read",
  "volume:read",
  "runtime:read",
  "monitor:read",
];
const DEVELOPER: readonly Permission[] = [...VIEWER, "job:run", "job:stop", "job:delete", "runtime:test"];
const MAINTAINER: readonly Permission[] = [
  ...DEVELOPER,
  "runtime:build",
  "runtime:validate",
  "network:create",
  "volume:create",
];

export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  admin: new Set(PERMISSIONS),
  maintainer: new Set(MAINTAINER),
  developer: new Set(DEVELOPER),
  viewer: new Set(VIEWER),
};

/** A role name as written in a certificate OU or in config, or undefined if it names no role. */
export function roleNamed(name: string): Role | undefined {
  const n = name.trim().toLowerCase();
  return (ROLES as readonly string[]).includes(n) ? (n as Role) : ROLE_ALIASES[n];
}

/** Privilege order, least first: a certificate naming several roles gets the least of them. */
const RANK: Record<Role, number> = { viewer: 0, developer: 1, maintainer: 2, admin: 3 };

/**
 * The role for a certificate's OU value(s). No known role → `defaultRole` ("none" denies all).
 */
export function roleFromOU(ou: string | readonly string[] | undefined, defaultRole: Role | "none"): Role | "none" {
  const names = ou === undefined ? [] : typeof ou === "string" ? ou.split(/[,+]/) : ou;
  const roles = names.map(roleNamed).filter((r): r is Role => r !== undefined);
  if (roles.length === 0) return defaultRole;
  return roles.reduce((a, b) => (RANK[b] < RANK[a] ? b : a));
}

export type Decision =
  | { allowed: true; permission: Permission }
  | { allowed: false; permission?: Permission; reason: string };

/** `rbac: false` (security.enable_rbac) lets any verified client do everything. */
export function authorize(role: Role | "none", methodPath: string, rbac = true): Decision {
  const permission = RPC_PERMISSIONS[methodPath];
  if (!permission) return { allowed: false, reason: `${methodPath} is not a known method` };
  if (!rbac) return { allowed: true, permission };
  if (role === "none") {
    return { allowed: false, permission, reason: `the client certificate's OU names no role, and security.default_role is "none" (${methodPath} needs ${permission})` };
  }
  if (ROLE_PERMISSIONS[role].has(permission)) return { allowed: true, permission };
  return { allowed: false, permission, reason: `role ${role} lacks permission ${permission} (needed for ${methodPath.slice(1)})` };
}
