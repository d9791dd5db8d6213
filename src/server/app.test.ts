/**
 * The daemon's API in-process (Hono's app.request()) over a real engine and SQLite store:
 * sessions (cookie attributes, expiry, logout), CSRF, the Host allow-list, login rate limiting,
 * body limits, users and tokens management, the event stream and the OpenAPI document.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../auth/secrets.js";
import { createRuntime, type Runtime } from "../factory.js";
import { OPS } from "../operations.js";
import { lightSpec } from "../spec/env-reference.js";
import { createApp, type AppDeps } from "./app.js";

let home: string;
let engine: Runtime;
let clock = Date.parse("2026-12-06T10:00:00.000Z");
const PASSWORD = "correct horse battery staple";

const spec = lightSpec(
  { project: "auth", env: "development", target: { kind: "process" } },
  "/nowhere/slipway.yaml",
);
const lockBody = JSON.stringify({
  resolution: { spec, snapshot: spec, secrets: {}, vars: {}, light: true },
  args: { release: true },
});

function makeApp(over: Partial<AppDeps> = {}) {
  return createApp({
    users: engine.store.auth,
    slipway: (t) => engine.slipway(t),
    subscribe: (fn) => engine.subscribe(fn),
    version: "test",
    startedAt: "now",
    now: () => clock,
    ...over,
  });
}

async function login(
  app: ReturnType<typeof makeApp>,
  name: string,
  password = PASSWORD,
  headers: Record<string, string> = {},
) {
  const r = await app.request("/v1/session", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ name, password }),
  });
  const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0];
  return {
    r,
    cookie,
    body: (await r.json()) as { csrfToken?: string; role?: string; error?: { message: string } },
  };
}

/** A lock left by a process that is gone: only a deployer's --release may clear it. */
async function plantStaleLock(): Promise<void> {
  await engine.store.releaseLock("auth", "development");
  const dead = spawnSync("true").pid;
  const r = await engine.store.acquireLock({
    project: "auth",
    env: "development",
    holder: `test pid ${dead}@${hostname()}`,
    operation: "deploy",
    pid: dead,
    acquiredAt: new Date().toISOString(),
  });
  expect(r.ok).toBe(true);
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "slipway-app-"));
  engine = await createRuntime({ home });
  const at = new Date(clock).toISOString();
  const passwordHash = await hashPassword(PASSWORD);
  for (const [name, role] of [
    ["vera", "viewer"],
    ["dora", "deployer"],
    ["ada", "admin"],
    ["rita", "viewer"],
  ] as const)
    await engine.store.auth.putUser({ name, role, grants: {}, passwordHash, createdAt: at, updatedAt: at });
});

afterAll(async () => {
  await engine?.close();
  rmSync(home, { recursive: true, force: true });
});

describe("daemon API: open routes", () => {
  it("health and the OpenAPI document are open; everything else needs credentials", async () => {
    const app = makeApp();
    expect(await (await app.request("/v1/health")).json()).toMatchObject({ ok: true, version: "test" });
    const doc = (await (await app.request("/v1/openapi.json")).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toBe("3.1.0");
    for (const op of OPS) expect(Object.keys(doc.paths)).toContain(`/v1/ops/${op}`);
    const deploy = JSON.stringify(doc.paths["/v1/ops/deploy"]);
    expect(deploy).toContain("least role: deployer");
    expect(deploy).toContain('"confirmName"');
    for (const p of ["/v1/ops/status", "/v1/users", "/v1/events", "/v1/nope", "/metrics"])
      expect((await app.request(p, { method: p.includes("ops") ? "POST" : "GET" })).status, p).toBe(401);
  });
});

describe("sessions", () => {
  it("a login sets a strict, http-only, expiring cookie (Secure under TLS); the session expires", async () => {
    const plain = await login(makeApp(), "dora");
    expect(plain.r.status).toBe(200);
    const setCookie = plain.r.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/slipway_session=[\w-]{40,}/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Max-Age=43200/);
    expect(setCookie).not.toMatch(/Secure/);
    expect((await login(makeApp({ secure: true }), "dora")).r.headers.get("set-cookie")).toMatch(/; Secure/);

    const app = makeApp({ sessionTtlMs: 60_000 });
    const s = await login(app, "dora");
    const who = await app.request("/v1/session", { headers: { cookie: s.cookie } });
    expect(await who.json()).toMatchObject({ actor: "dora", role: "deployer", csrfToken: s.body.csrfToken });
    clock += 61_000;
    const late = await app.request("/v1/session", { headers: { cookie: s.cookie } });
    expect(late.status).toBe(401);
    expect((await late.json()).error.message).toMatch(/session expired/);
  });

  it("logout ends the session", async () => {
    const app = makeApp();
    const s = await login(app, "vera");
    const h = { cookie: s.cookie, "x-slipway-csrf": s.body.csrfToken ?? "" };
    expect((await app.request("/v1/session", { method: "DELETE", headers: h })).status).toBe(200);
    expect((await app.request("/v1/session", { headers: h })).status).toBe(401);
  });

  it("a viewer's session may read but a forged rollback POST is 403, and nothing changes", async () => {
    const app = makeApp();
    const s = await login(app, "vera");
    await plantStaleLock();
    const r = await app.request("/v1/ops/lock", {
      method: "POST",
      headers: {
        cookie: s.cookie,
        "x-slipway-csrf": s.body.csrfToken ?? "",
        "content-type": "application/json",
      },
      body: lockBody,
    });
    expect(r.status).toBe(403);
    expect((await r.json()).error.message).toBe(
      "vera is viewer on auth/development; to release the lock needs deployer or above",
    );
    expect(await engine.store.getLock("auth", "development")).toMatchObject({ operation: "deploy" });
  });
});

describe("CSRF", () => {
  it("a cookie change needs the CSRF header and a same-origin (or absent) Origin", async () => {
    const app = makeApp();
    const s = await login(app, "dora");
    const send = (headers: Record<string, string>) =>
      app.request("/v1/ops/lock", {
        method: "POST",
        headers: { cookie: s.cookie, "content-type": "application/json", ...headers },
        body: lockBody,
      });
    await plantStaleLock();
    const none = await send({});
    expect(none.status).toBe(403);
    expect((await none.json()).error.message).toMatch(/x-slipway-csrf/);
    expect((await send({ "x-slipway-csrf": "0".repeat(64) })).status).toBe(403);
    const evil = await send({ "x-slipway-csrf": s.body.csrfToken ?? "", origin: "https://evil.example" });
    expect(evil.status).toBe(403);
    expect((await evil.json()).error.message).toMatch(/cross-origin request from https:\/\/evil.example/);
    expect(await engine.store.getLock("auth", "development")).toBeDefined();
    // The daemon's own page: same origin, the token it was given.
    const ok = await send({ "x-slipway-csrf": s.body.csrfToken ?? "", origin: "http://localhost" });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('"released":true');
    expect(await engine.store.getLock("auth", "development")).toBeUndefined();
    // A login from another origin is refused too (login CSRF).
    expect((await login(app, "dora", PASSWORD, { origin: "https://evil.example" })).r.status).toBe(403);
  });
});

describe("Host allow-list (DNS rebinding)", () => {
  it("refuses a Host it does not serve, on every route; accepts loopback names and --allowed-host", async () => {
    const app = makeApp({ allowedHosts: ["deploy.example.com"] });
    for (const host of ["evil.example", "127.0.0.1.evil.example", "attacker:7437"]) {
      const r = await app.request("http://x/v1/health", { headers: { host } });
      expect(r.status, host).toBe(403);
      expect((await r.json()).error.message).toMatch(/is not one this daemon serves/);
      expect((await login(app, "dora", PASSWORD, { host })).r.status).toBe(403);
    }
    for (const host of [
      "localhost:7437",
      "127.0.0.1:7437",
      "[::1]:7437",
      "deploy.example.com",
      "DEPLOY.example.com.:443",
    ])
      expect((await app.request("http://x/v1/health", { headers: { host } })).status, host).toBe(200);
  });
});

describe("login rate limiting", () => {
  it("5 wrong passwords for a user: the 6th try is 429 with Retry-After, even with the right password", async () => {
    const app = makeApp({ loginAttempts: 5 });
    for (let i = 0; i < 5; i++) {
      const r = await login(app, "rita", "wrong password " + i);
      expect(r.r.status).toBe(401);
      expect(r.body.error?.message).toBe("wrong user name or password");
    }
    const blocked = await login(app, "rita");
    expect(blocked.r.status).toBe(429);
    expect(Number(blocked.r.headers.get("retry-after"))).toBeGreaterThan(0);
    clock += 61_000;
    expect((await login(app, "rita")).r.status).toBe(200);
    // An unknown user answers exactly as a wrong password does.
    expect((await login(app, "nobody")).body.error?.message).toBe("wrong user name or password");
  });
});

describe("body limits", () => {
  it("a body over the limit is 413 before anything reads it; the login route's limit is small", async () => {
    const app = makeApp({ maxBodyBytes: 64 * 1024 });
    const s = await login(app, "ada");
    const big = "x".repeat(70 * 1024);
    const r = await app.request("/v1/ops/status", {
      method: "POST",
      headers: {
        cookie: s.cookie,
        "x-slipway-csrf": s.body.csrfToken ?? "",
        "content-type": "application/json",
      },
      body: JSON.stringify({ pad: big }),
    });
    expect(r.status).toBe(413);
    expect((await r.json()).error.name).toBe("PayloadTooLarge");
    const fat = await app.request("/v1/session", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "ada", password: "y".repeat(20_000) }),
    });
    expect(fat.status).toBe(413);
  });
});

describe("users and tokens over the API", () => {
  it("an admin adds a user and a token; the token works until revoked; a deployer may not manage", async () => {
    const app = makeApp();
    const admin = await login(app, "ada");
    const h = {
      cookie: admin.cookie,
      "x-slipway-csrf": admin.body.csrfToken ?? "",
      "content-type": "application/json",
    };
    const add = await app.request("/v1/users", {
      method: "POST",
      headers: h,
      body: JSON.stringify({
        name: "olga",
        role: "operator",
        grants: { staging: "deployer" },
        password: PASSWORD,
      }),
    });
    expect(add.status).toBe(201);
    expect(JSON.stringify(await add.json())).not.toContain("scrypt");
    expect((await login(app, "olga")).body).toMatchObject({
      role: "operator",
      grants: { staging: "deployer" },
    });
    const weak = await app.request("/v1/users", {
      method: "POST",
      headers: h,
      body: JSON.stringify({ name: "w", role: "viewer", password: "short" }),
    });
    expect(weak.status).toBe(400);
    const t = await app.request("/v1/tokens", {
      method: "POST",
      headers: h,
      body: JSON.stringify({ name: "ci", role: "deployer", expiresInMs: 3_600_000 }),
    });
    expect(t.status).toBe(201);
    const { token, record } = (await t.json()) as {
      token: string;
      record: { id: string; expiresAt: string };
    };
    expect(token).toMatch(/^swt_[\w-]{43}$/);
    expect(JSON.stringify(await (await app.request("/v1/tokens", { headers: h })).json())).not.toContain(
      token,
    );
    const bearer = { authorization: `Bearer ${token}` };
    expect(await (await app.request("/v1/session", { headers: bearer })).json()).toMatchObject({
      actor: "token:ci",
      role: "deployer",
    });
    expect((await app.request("/v1/users", { headers: bearer })).status).toBe(403);
    expect((await app.request(`/v1/tokens/${record.id}`, { method: "DELETE", headers: h })).status).toBe(200);
    const gone = await app.request("/v1/session", { headers: bearer });
    expect(gone.status).toBe(401);
    expect(await gone.json()).toMatchObject({ error: { message: "unknown or revoked token" } });
    // A wrong token is unknown, whatever its length; only a header that is not "Bearer X" is malformed.
    for (const [authorization, message] of [
      ["Bearer wrong", "unknown or revoked token"],
      ["Bearer", "malformed Authorization header (expected: Bearer TOKEN)"],
      [
        `Basic ${Buffer.from("a:b").toString("base64")}`,
        "malformed Authorization header (expected: Bearer TOKEN)",
      ],
    ]) {
      const r = await app.request("/v1/session", { headers: { authorization } });
      expect(r.status, authorization).toBe(401);
      expect(await r.json(), authorization).toMatchObject({ error: { message } });
    }
  });
});

describe("GET /v1/events", () => {
  it("streams the engine's events of the environments asked for", async () => {
    const app = makeApp();
    const s = await login(app, "vera");
    const r = await app.request("/v1/events?env=staging", { headers: { cookie: s.cookie } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = r.body!.getReader();
    const dec = new TextDecoder();
    let text = "";
    const until = async (re: RegExp) => {
      while (!re.test(text)) text += dec.decode((await reader.read()).value);
    };
    await until(/event: ready/);
    const publish = (env: string, message: string) =>
      engine.slipway("process").publish("shop", env, { type: "log", level: "info", message } as never);
    publish("production", "not for this stream");
    publish("staging", "hello staging");
    await until(/hello staging/);
    expect(text).not.toContain("not for this stream");
    expect(text).toContain('event: engine\ndata: {"project":"shop","env":"staging","event":{"type":"log"');
    expect(text).toContain("\nid: 1\n");
    await reader.cancel();
  });
});
