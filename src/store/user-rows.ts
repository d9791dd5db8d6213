/** Columns and row mapping of users, api_tokens and sessions, shared by both stores. */
import type { Grants, PrincipalRole, Role } from "../auth/role-names.js";
import type { SessionRecord, TokenRecord, UserRecord } from "./users.js";

type Row = Record<string, unknown>;

const json = <T>(v: unknown): T => (typeof v === "string" ? (JSON.parse(v) as T) : (v as T));
const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

export const USER_COLUMNS = ["name", "role", "grants", "password_hash", "created_at", "updated_at"] as const;

export function userValues(u: UserRecord): unknown[] {
  return [
    u.name,
    u.role,
    JSON.stringify(u.grants ?? {}),
    u.passwordHash ?? null,
    iso(u.createdAt),
    iso(u.updatedAt),
  ];
}

export function userFromRow(r: Row): UserRecord {
  const u: UserRecord = {
    name: String(r.name),
    role: r.role as Role,
    grants: json<Grants>(r.grants),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
  if (r.password_hash != null) u.passwordHash = String(r.password_hash);
  return u;
}

export const TOKEN_COLUMNS = [
  "id",
  "name",
  "role",
  "grants",
  "hash",
  "created_at",
  "created_by",
  "expires_at",
  "last_used_at",
] as const;

export function tokenValues(t: TokenRecord): unknown[] {
  return [
    t.id,
    t.name,
    t.role,
    JSON.stringify(t.grants ?? {}),
    t.hash,
    iso(t.createdAt),
    t.createdBy,
    t.expiresAt ? iso(t.expiresAt) : null,
    t.lastUsedAt ? iso(t.lastUsedAt) : null,
  ];
}

export function tokenFromRow(r: Row): TokenRecord {
  const t: TokenRecord = {
    id: String(r.id),
    name: String(r.name),
    role: r.role as PrincipalRole,
    grants: json<Grants>(r.grants),
    hash: String(r.hash),
    createdAt: iso(r.created_at),
    createdBy: String(r.created_by),
  };
  if (r.expires_at != null) t.expiresAt = iso(r.expires_at);
  if (r.last_used_at != null) t.lastUsedAt = iso(r.last_used_at);
  return t;
}

export const SESSION_COLUMNS = ["hash", "user_name", "created_at", "expires_at"] as const;

export function sessionValues(s: SessionRecord): unknown[] {
  return [s.hash, s.user, iso(s.createdAt), iso(s.expiresAt)];
}

export function sessionFromRow(r: Row): SessionRecord {
  return {
    hash: String(r.hash),
    user: String(r.user_name),
    createdAt: iso(r.created_at),
    expiresAt: iso(r.expires_at),
  };
}

export { iso as isoTime };
