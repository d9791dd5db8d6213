/**
 * Who may do what: the roles, per-environment grants, and the one table that maps every
 * operation (operations.ts HANDLERS) to the least role allowed to run it. Pure data and small
 * functions, shared by the daemon (which enforces) and the CLI (which validates `--role`).
 */
import type { OpName } from "./operations.js";

import { ROLES, type Grants, type PrincipalRole, type Role } from "./auth/role-names.js";

export { PRINCIPAL_ROLES, ROLES, type Grants, type PrincipalRole, type Role } from "./auth/role-names.js";

export const ROLE_SUMMARY: Record<PrincipalRole, string> = {
  viewer: "reads everything (status, history, logs, alerts, backups) except secret values",
  operator: "viewer + roll back to an earlier revision, restart, silence alerts, take a backup",
  deployer: "operator + deploy a new release, scale, stop, run runbooks, checks and migrations",
  admin: "deployer + manage users and tokens, restore data, destroy environments, exec",
  metrics: "GET /metrics only (a Prometheus scrape token)",
};

export interface Principal {
  /** The name recorded as the actor of what it does (a user's name, `token:NAME`, or the local user). */
  actor: string;
  kind: "user" | "token" | "local";
  role: PrincipalRole;
  grants: Grants;
}

export const isRole = (v: unknown): v is Role =>
  typeof v === "string" && (ROLES as readonly string[]).includes(v);
export const isPrincipalRole = (v: unknown): v is PrincipalRole => isRole(v) || v === "metrics";

/** The role a principal holds in one environment: `project/env` grant, then `env` grant, then its role. */
export function roleIn(p: Principal, project: string, env: string): PrincipalRole {
  return p.grants[`${project}/${env}`] ?? p.grants[env] ?? p.role;
}

/** True when `held` is at least `needed` (`metrics` satisfies nothing but itself). */
export function atLeast(held: PrincipalRole, needed: PrincipalRole): boolean {
  if (held === "metrics" || needed === "metrics") return held === needed;
  return ROLES.indexOf(held) >= ROLES.indexOf(needed);
}

/** The least role for an operation, possibly depending on its arguments, and what it is called. */
export interface Requirement {
  role: Role;
  /** What the operation does, for the 403 message ("roll back with the database"). */
  what: string;
}
type Rule = Role | ((a: Record<string, unknown>) => Requirement | Role);

/**
 * THE table: every operation → the least role that may run it. Adding an operation to OPS
 * without a row here does not compile.
 */
export const OP_ROLES: Record<OpName, Rule> = {
  status: "viewer",
  history: "viewer",
  health: "viewer",
  logs: "viewer",
  stats: "viewer",
  smoke: "viewer",
  plan: (a) =>
    a.save === true
      ? { role: "deployer", what: "save a plan (it holds the Terraform plan files)" }
      : "viewer",
  backups: "viewer",
  rules: "viewer",
  secrets: "viewer",
  "runbook-runs": "viewer",
  lock: (a) => (a.release === true ? { role: "deployer", what: "release the lock" } : "viewer"),
  alerts: (a) => (a.action === "test" ? { role: "operator", what: "send a test alert" } : "viewer"),
  silence: (a) =>
    a.action === "add" || a.action === "expire" ? { role: "operator", what: "silence alerts" } : "viewer",
  rollback: (a) =>
    a.withDb === true ? { role: "admin", what: "roll back with the database (restores data)" } : "operator",
  restart: "operator",
  backup: "operator",
  "backup-verify": "operator",
  deploy: "deployer",
  scale: "deployer",
  runbook: () => ({ role: "deployer", what: "run a runbook" }),
  check: "deployer",
  stop: "deployer",
  prune: "deployer",
  "backups-prune": "deployer",
  migrate: (a) =>
    a.action === "status"
      ? "viewer"
      : a.action === "down"
        ? { role: "admin", what: "migrate down (can drop data)" }
        : { role: "deployer", what: `migrate ${String(a.action)}` },
  restore: "admin",
  destroy: "admin",
  exec: "admin",
};

export function requirementOf(op: OpName, args: Record<string, unknown>): Requirement {
  const rule = OP_ROLES[op];
  const r = typeof rule === "function" ? rule(args) : rule;
  return typeof r === "string" ? { role: r, what: op } : r;
}

/** Why `p` may not run `op` on project/env, or undefined when it may. */
export function refusal(
  p: Principal,
  op: OpName,
  args: Record<string, unknown>,
  project: string,
  env: string,
): string | undefined {
  const need = requirementOf(op, args);
  const held = roleIn(p, project, env);
  if (atLeast(held, need.role)) return undefined;
  return `${p.actor} is ${held === "metrics" ? "a metrics token" : `${held}`} on ${project}/${env}; to ${need.what} needs ${need.role} or above`;
}
