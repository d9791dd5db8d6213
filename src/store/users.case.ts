/**
 * Conformance for users, API tokens and sessions (users.ts); run from runStoreConformance
 * (store.case.ts) against every implementation.
 */
import { describe, expect, it } from "vitest";
import type { Store } from "./store.js";
import type { TokenRecord, UserRecord } from "./users.js";

export function userRecord(over: Partial<UserRecord> = {}): UserRecord {
  return {
    name: "alice",
    role: "deployer",
    grants: { production: "viewer", "shop/staging": "admin" },
    passwordHash: "scrypt$32768$8$1$c2FsdA$aGFzaA",
    createdAt: "2024-05-01T10:00:00.000Z",
    updatedAt: "2024-05-01T10:00:00.000Z",
    ...over,
  };
}

export function tokenRecord(over: Partial<TokenRecord> = {}): TokenRecord {
  return {
    id: "tok_0001",
    name: "ci",
    role: "deployer",
    grants: {},
    hash: "a".repeat(64),
    createdAt: "2024-05-01T10:00:00.000Z",
    createdBy: "alice",
    ...over,
  };
}

export function describeUsers(open: () => Promise<Store>): void {
  describe("users", () => {
    it("returns what was stored, field for field; replaces by name; removes", async () => {
      const s = await open();
      const alice = userRecord();
      await s.auth.putUser(alice);
      expect(await (await open()).auth.getUser("alice")).toEqual(alice);
      const noPassword = userRecord({ name: "bob", role: "viewer", grants: {}, passwordHash: undefined });
      delete noPassword.passwordHash;
      await s.auth.putUser(noPassword);
      expect(await s.auth.getUser("bob")).toEqual(noPassword);
      const changed = userRecord({ role: "admin", updatedAt: "2024-05-02T10:00:00.000Z" });
      await s.auth.putUser(changed);
      expect((await s.auth.listUsers()).map((u) => [u.name, u.role])).toEqual([
        ["alice", "admin"],
        ["bob", "viewer"],
      ]);
      expect(await s.auth.removeUser("bob")).toBe(true);
      expect(await s.auth.removeUser("bob")).toBe(false);
      expect(await s.auth.getUser("bob")).toBeUndefined();
    });
  });

  describe("api tokens", () => {
    it("finds a token by its hash only; names are unique; revokes by id or name", async () => {
      const s = await open();
      const ci = tokenRecord({ expiresAt: "2024-08-01T10:00:00.000Z" });
      await s.auth.addToken(ci);
      await s.auth.addToken(
        tokenRecord({ id: "tok_0002", name: "prom", role: "metrics", hash: "b".repeat(64) }),
      );
      expect(await s.auth.tokenByHash("a".repeat(64))).toEqual(ci);
      expect(await s.auth.tokenByHash("c".repeat(64))).toBeUndefined();
      await expect(s.auth.addToken(tokenRecord({ id: "tok_0003", hash: "d".repeat(64) }))).rejects.toThrow(
        /already exists/,
      );
      await s.auth.touchToken("tok_0001", "2024-05-03T10:00:00.000Z");
      expect((await s.auth.tokenByHash("a".repeat(64)))?.lastUsedAt).toBe("2024-05-03T10:00:00.000Z");
      expect((await s.auth.listTokens()).map((t) => t.name)).toEqual(["ci", "prom"]);
      expect(await s.auth.revokeToken("prom")).toBe(true);
      expect(await s.auth.revokeToken("tok_0001")).toBe(true);
      expect(await s.auth.revokeToken("tok_0001")).toBe(false);
      expect(await s.auth.listTokens()).toEqual([]);
    });
  });

  describe("sessions", () => {
    it("stores sessions by hash, prunes expired ones, and a removed user's sessions go too", async () => {
      const s = await open();
      await s.auth.putUser(userRecord());
      const live = {
        hash: "1".repeat(64),
        user: "alice",
        createdAt: "2024-05-01T10:00:00.000Z",
        expiresAt: "2024-05-01T22:00:00.000Z",
      };
      const old = { ...live, hash: "2".repeat(64), expiresAt: "2024-05-01T11:00:00.000Z" };
      await s.auth.addSession(live);
      await s.auth.addSession(old);
      await expect(s.auth.addSession(live)).rejects.toThrow();
      expect(await s.auth.sessionByHash(live.hash)).toEqual(live);
      expect(await s.auth.pruneSessions("2024-05-01T12:00:00.000Z")).toBe(1);
      expect(await s.auth.sessionByHash(old.hash)).toBeUndefined();
      expect(await s.auth.removeSession(live.hash)).toBe(true);
      expect(await s.auth.removeSession(live.hash)).toBe(false);
      await s.auth.addSession(live);
      await s.auth.removeUser("alice");
      expect(await s.auth.sessionByHash(live.hash)).toBeUndefined();
    });
  });
}
