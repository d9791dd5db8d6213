/** The role names, alone (the store imports them; op-roles.ts holds what each may do). */
/** Ordered: each role may do everything the ones before it may. `metrics` stands apart. */
export const ROLES = ["viewer", "operator", "deployer", "admin"] as const;
export type Role = (typeof ROLES)[number];
/** A principal's role: one of ROLES, or `metrics` (GET /metrics and nothing else). */
export type PrincipalRole = Role | "metrics";
export const PRINCIPAL_ROLES: readonly PrincipalRole[] = [...ROLES, "metrics"];

/** `deployer` on staging, `viewer` on production: env name, or `project/env`, to a role. */
export type Grants = Record<string, Role>;
