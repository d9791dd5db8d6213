/**
 * Users, API tokens and dashboard sessions in the store (migration 0003), so a shared
 * PostgreSQL store lets a second daemon take over with the same people. Nothing here can give
 * a credential back: tokens and session ids as SHA-256, passwords as scrypt hashes
 * (auth/secrets.ts).
 */
import type { Grants, PrincipalRole, Role } from "../auth/role-names.js";

export interface UserRecord {
  name: string;
  role: Role;
  /** Per-environment roles (`staging` or `project/staging` → role). */
  grants: Grants;
  /** `scrypt$N$r$p$salt$hash`; absent: the user cannot log in with a password. */
  passwordHash?: string;
  createdAt: string;
  updatedAt: string;
}

export interface TokenRecord {
  /** Short public id (`tok_…`), shown by `tokens list`, used by `tokens revoke`. */
  id: string;
  /** Unique; recorded as the actor `token:NAME`. */
  name: string;
  role: PrincipalRole;
  grants: Grants;
  /** SHA-256 (hex) of the token value. */
  hash: string;
  createdAt: string;
  createdBy: string;
  expiresAt?: string;
  lastUsedAt?: string;
}

export interface SessionRecord {
  /** SHA-256 (hex) of the session id the cookie carries. */
  hash: string;
  user: string;
  createdAt: string;
  expiresAt: string;
}

export interface AuthStore {
  /** Insert or replace by name. */
  putUser(u: UserRecord): Promise<void>;
  getUser(name: string): Promise<UserRecord | undefined>;
  /** By name. */
  listUsers(): Promise<UserRecord[]>;
  /** Also ends the user's sessions; true when a user was removed. */
  removeUser(name: string): Promise<boolean>;

  /** Throws StoreError when the name or hash is taken. */
  addToken(t: TokenRecord): Promise<void>;
  tokenByHash(hash: string): Promise<TokenRecord | undefined>;
  /** By name. */
  listTokens(): Promise<TokenRecord[]>;
  /** By id or name; true when one was removed. */
  revokeToken(idOrName: string): Promise<boolean>;
  touchToken(id: string, at: string): Promise<void>;

  addSession(s: SessionRecord): Promise<void>;
  sessionByHash(hash: string): Promise<SessionRecord | undefined>;
  removeSession(hash: string): Promise<boolean>;
  /** Removes sessions that expired before `before`; returns how many. */
  pruneSessions(before: string): Promise<number>;
}
