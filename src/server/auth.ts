/**
 * Who is calling: a bearer token (`tokens create`), a dashboard session cookie (`POST
 * /v1/session`), or the local owner of SLIPWAY_HOME over the daemon's 0600 unix socket.
 * Credentials are looked up by their SHA-256 and compared in constant time (auth/secrets.ts).
 */
import {
  equalConstantTime,
  newSecret,
  sha256,
  verifyPassword,
  type AuthStore,
  type Principal,
  type UserRecord,
} from "../index.js";

export const SESSION_COOKIE = "slipway_session";
export const CSRF_HEADER = "x-slipway-csrf";

export type Authenticated = { principal: Principal; session?: string } | { error: string };

export function principalOfUser(u: UserRecord): Principal {
  return { actor: u.name, kind: "user", role: u.role, grants: u.grants };
}

/** The CSRF token of a session: derived from its (secret) id, so nothing more is stored. */
export function csrfTokenOf(sessionId: string): string {
  return sha256(`csrf:${sessionId}`);
}

export class Authenticator {
  constructor(
    private readonly store: AuthStore,
    private readonly sessionTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async bearer(header: string): Promise<Authenticated> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return { error: "malformed Authorization header (expected: Bearer TOKEN)" };
    // A well-formed header with a token no one was given (too short or long to be one): unknown.
    if (m[1].length < 16 || m[1].length > 512) return { error: "unknown or revoked token" };
    const hash = sha256(m[1]);
    const t = await this.store.tokenByHash(hash);
    // The lookup is by hash; the comparison again in constant time (a database collation or
    // index must not be what decides).
    if (!t || !equalConstantTime(t.hash, hash)) return { error: "unknown or revoked token" };
    if (t.expiresAt && Date.parse(t.expiresAt) <= this.now())
      return { error: `token "${t.name}" expired at ${t.expiresAt}` };
    void this.store.touchToken(t.id, new Date(this.now()).toISOString()).catch(() => {});
    return { principal: { actor: `token:${t.name}`, kind: "token", role: t.role, grants: t.grants } };
  }

  async session(sessionId: string): Promise<Authenticated> {
    const s = await this.store.sessionByHash(sha256(sessionId));
    if (!s) return { error: "no such session (logged out, or the daemon's store changed)" };
    if (Date.parse(s.expiresAt) <= this.now()) {
      await this.store.removeSession(s.hash);
      return { error: "session expired: log in again" };
    }
    const u = await this.store.getUser(s.user);
    if (!u) return { error: "the session's user was removed" };
    return { principal: principalOfUser(u), session: sessionId };
  }

  /** A new session for name/password, or undefined (same time whether or not the user exists). */
  async login(
    name: string,
    password: string,
  ): Promise<{ id: string; user: UserRecord; expiresAt: string } | undefined> {
    const u = await this.store.getUser(name);
    const ok = await verifyPassword(password, u?.passwordHash);
    if (!ok || !u) return undefined;
    const id = newSecret(32);
    const now = this.now();
    const expiresAt = new Date(now + this.sessionTtlMs).toISOString();
    await this.store.addSession({
      hash: sha256(id),
      user: u.name,
      createdAt: new Date(now).toISOString(),
      expiresAt,
    });
    void this.store.pruneSessions(new Date(now).toISOString()).catch(() => {});
    return { id, user: u, expiresAt };
  }

  async logout(sessionId: string): Promise<void> {
    await this.store.removeSession(sha256(sessionId));
  }
}

/** Failed logins per key (client address, user name) in a sliding window: 429 beyond the limit. */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max = 5,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds to wait when a key is over its limit, else 0. */
  retryAfter(keys: string[]): number {
    const t = this.now();
    let wait = 0;
    for (const k of keys) {
      const recent = (this.failures.get(k) ?? []).filter((x) => t - x < this.windowMs);
      this.failures.set(k, recent);
      if (recent.length >= this.max) wait = Math.max(wait, Math.ceil((recent[0] + this.windowMs - t) / 1000));
    }
    return wait;
  }

  fail(keys: string[]): void {
    const t = this.now();
    for (const k of keys) this.failures.set(k, [...(this.failures.get(k) ?? []), t].slice(-this.max * 2));
    if (this.failures.size > 10_000) this.failures.clear(); // bounded memory under a spray of names
  }

  succeed(keys: string[]): void {
    for (const k of keys) this.failures.delete(k);
  }
}
