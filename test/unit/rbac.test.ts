import { describe, expect, test } from "bun:test";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { authorize, MUTATING, PERMISSIONS, roleFromOU, ROLES, RPC_PERMISSIONS, type Permission, type Role } from "../../src/daemon/auth/rbac";
import * as gen from "../../src/gen/joblet";

/** Every method path of every service in the generated wire API. */
function allMethodPaths(): string[] {
  const services = Object.entries(gen).filter(([name]) => name.endsWith("ServiceService")) as [string, ServiceDefinition][];
  expect(services.length).toBeGreaterThanOrEqual(5);
  return services.flatMap(([, def]) => Object.values(def).map((m) => m.path));
}

const READS: Permission[] = ["job:read", "job:logs", "job:metrics", "job:telematics", "network:read", "volume:read", "runtime:read", "monitor:read"];
/** The role matrix, written out independently of the implementation's table. */
const EXPECTED: Record<Role, Set<Permission>> = {
  viewer: new Set(READS),
  developer: new Set([...READS, "job:run", "job:stop", "job:delete", "runtime:test"]),
  maintainer: new Set([...READS, "job:run", "job:stop", "job:delete", "runtime:test", "runtime:build", "runtime:validate", "network:create", "volume:create"]),
  admin: new Set(PERMISSIONS),
};

describe("RBAC table", () => {
  test("maps every RPC of every service to exactly one permission, and nothing else", () => {
    const paths = allMethodPaths();
    expect(paths.length).toBe(31); // Joblet API v2 (26) and WorkflowService (5)
    for (const p of paths) expect(RPC_PERMISSIONS[p]).toBeDefined();
    expect(Object.keys(RPC_PERMISSIONS).sort()).toEqual([...paths].sort());
  });

  test("every role × every RPC decides as the role matrix says", () => {
    for (const path of allMethodPaths()) {
      const permission = RPC_PERMISSIONS[path]!;
      for (const role of ROLES) {
        const d = authorize(role, path);
        expect({ role, path, allowed: d.allowed }).toEqual({ role, path, allowed: EXPECTED[role].has(permission) });
        if (!d.allowed) expect(d.reason).toContain(`role ${role} lacks permission ${permission}`);
      }
      const none = authorize("none", path);
      expect(none.allowed).toBe(false);
      expect(authorize("none", path, false).allowed).toBe(true); // enable_rbac: false
    }
  });

  test("monitoring needs a role; viewers may read it", () => {
    expect(authorize("none", "/joblet.MonitoringService/GetSystemStatus").allowed).toBe(false);
    expect(authorize("viewer", "/joblet.MonitoringService/StreamSystemMetrics").allowed).toBe(true);
  });

  test("only admins remove shared infrastructure", () => {
    for (const p of ["/joblet.NetworkService/RemoveNetwork", "/joblet.VolumeService/RemoveVolume", "/joblet.RuntimeService/RemoveRuntime"]) {
      expect(ROLES.filter((r) => authorize(r, p).allowed)).toEqual(["admin"]);
    }
  });

  test("viewers can do nothing that mutates", () => {
    for (const [path, perm] of Object.entries(RPC_PERMISSIONS)) if (MUTATING.has(perm)) expect(authorize("viewer", path).allowed).toBe(false);
  });

  test("an unknown method is refused even for admins", () => {
    const d = authorize("admin", "/joblet.JobService/Exploit");
    expect(d.allowed).toBe(false);
  });
});

describe("role from certificate OU", () => {
  test("known roles, case-insensitive, and reader as viewer", () => {
    expect(roleFromOU("admin", "none")).toBe("admin");
    expect(roleFromOU("Maintainer", "none")).toBe("maintainer");
    expect(roleFromOU(["developer"], "none")).toBe("developer");
    expect(roleFromOU("reader", "none")).toBe("viewer");
  });
  test("unknown or missing OU gets the default role", () => {
    expect(roleFromOU("contractors", "none")).toBe("none");
    expect(roleFromOU("contractors", "viewer")).toBe("viewer");
    expect(roleFromOU(undefined, "developer")).toBe("developer");
  });
  test("several roles in one certificate get the least privileged", () => {
    expect(roleFromOU(["admin", "viewer"], "none")).toBe("viewer");
    expect(roleFromOU(["maintainer", "developer", "junk"], "none")).toBe("developer");
  });
});
