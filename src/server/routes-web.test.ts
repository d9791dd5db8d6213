/**
 * GET /v1/environments and the dashboard's static files, in-process (app.request()) over a real
 * SQLite store: who sees which environment (roles and grants), what needs no session, and that
 * nothing outside the built directory is served.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "../auth/secrets.js";
import { instance, newRevision } from "../store/fixtures.case.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/store.js";
import type { Slipway } from "../slipway.js";
import { createApp } from "./app.js";
import { listEnvironments } from "./routes-web.js";

let home: string;
let web: string;
let store: Store;
const TOKEN = (n: string) => `swt_${n}_${"y".repeat(40)}`;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "slipway-web-"));
  web = join(home, "web");
  mkdirSync(join(web, "assets"), { recursive: true });
  writeFileSync(join(web, "index.html"), "<!doctype html><title>Slipway</title>");
  writeFileSync(join(web, "assets", "a.js"), "export {}");
  writeFileSync(join(home, "secret.txt"), "not for you");
  store = await openStore({ home });
  for (const env of ["staging", "production"]) {
    const protect = env === "production" ? { confirm: "name" } : undefined;
    const r = await store.createRevision(
      newRevision({ env, status: "deployed", snapshot: { target: { kind: "process" }, protect } }),
    );
    await store.putInstance(instance({ env, revision: r.number }));
  }
  // A first deploy that failed (no instance) is listed; a destroyed environment is not.
  await store.createRevision(newRevision({ env: "preview", status: "failed", snapshot: {} }));
  await store.createRevision(newRevision({ env: "old", status: "superseded", snapshot: {} }));
  await store.acquireLock({
    project: "shop",
    env: "staging",
    holder: "bob",
    operation: "deploy",
    pid: 1,
    acquiredAt: "2026-12-06T10:00:00.000Z",
  });
  const grants: [string, string, Record<string, string>][] = [
    ["viewer", "viewer", {}],
    ["stagingonly", "viewer", { production: "metrics" }],
    ["scrape", "metrics", {}],
  ];
  for (const [name, role, g] of grants)
    await store.auth.addToken({
      id: `tok_${name}`,
      name,
      role: role as "viewer",
      grants: g as Record<string, "viewer">,
      hash: sha256(TOKEN(name)),
      createdAt: new Date().toISOString(),
      createdBy: "test",
    });
});
afterAll(async () => {
  await store.close();
  rmSync(home, { recursive: true, force: true });
});

const app = () =>
  createApp({
    users: store.auth,
    slipway: () => ({}) as Slipway,
    version: "t",
    startedAt: "now",
    environments: () => listEnvironments(store),
    webRoot: web,
  });
const get = (path: string, token?: string, host = "127.0.0.1:7437") =>
  app().request(path, { headers: { host, ...(token ? { authorization: `Bearer ${TOKEN(token)}` } : {}) } });

describe("GET /v1/environments", () => {
  it("lists the environments with revision, target, protection and lock for a viewer", async () => {
    const res = await get("/v1/environments", "viewer");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { environments: Record<string, unknown>[] };
    expect(body.environments.map((e) => e.env)).toEqual(["preview", "production", "staging"]);
    expect(body.environments[0]).toMatchObject({
      revision: { status: "failed" },
      target: { kind: "process" },
    });
    expect(body.environments[1]).toMatchObject({ protect: true, target: { kind: "process" } });
    expect(body.environments[2]).toMatchObject({
      protect: false,
      revision: { number: 1, version: "v1", status: "deployed", actor: "alice" },
      lock: { holder: "bob", operation: "deploy" },
    });
  });

  it("leaves out environments the caller may not view; needs credentials; refuses metrics tokens", async () => {
    const some = (await (await get("/v1/environments", "stagingonly")).json()) as {
      environments: { env: string }[];
    };
    expect(some.environments.map((e) => e.env)).toEqual(["preview", "staging"]);
    expect((await get("/v1/environments")).status).toBe(401);
    expect((await get("/v1/environments", "scrape")).status).toBe(403);
  });
});

describe("the dashboard's files", () => {
  it("are served without a session, with their content types", async () => {
    const page = await get("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const js = await get("/assets/a.js");
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toContain("immutable");
  });

  it("nothing outside the build, and the Host allow-list still applies", async () => {
    expect((await get("/../secret.txt")).status).toBe(404);
    expect((await get("/%2e%2e/secret.txt")).status).toBe(404);
    expect((await get("/nope.html")).status).toBe(404);
    expect((await get("/", undefined, "evil.example")).status).toBe(403);
  });
});
