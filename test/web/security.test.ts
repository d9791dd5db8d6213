/**
 * The dashboard's defences in a real browser (Debian's Chromium driven by playwright-core)
 * against real daemons started by the CLI: a session that expires (`serve --session-ttl`), forms
 * and scripts of another origin that try changes with the logged-in user's cookie (CSRF), a
 * DNS-rebinding host name (Host allow-list), and the login rate limit. The wrong-password refusal
 * and the viewer's forged POST (403) are in dashboard.test.ts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, daemonInfo, makeProject, waitFor, type Project } from "../e2e/harness.js";
import { freePort } from "../support/ports.js";

const CHROMIUM = "/usr/bin/chromium";
/** Seconds a session of the short-lived daemon lasts. */
const SHORT_TTL_S = 4;

/** The main daemon (default session lifetime), with e2e/development deployed twice (v1, v2). */
let main: Project;
let url: string;
/** A second daemon started with `serve --session-ttl 4s` (nothing deployed). */
let short: Project;
let shortUrl: string;
let shortDaemon: ChildProcess;
let browser: Browser;
/** Pages of "another site" on a second loopback port (attacker.test maps there as well). */
let attacker: Server;
let attackerPort: number;

function addUser(p: Project, name: string, role: string): void {
  const r = p.cli(["users", "add", name, "--role", role, "--password-stdin"], {
    input: `${name}-password-1\n`,
  });
  if (r.code !== 0) throw new Error(`users add ${name}: ${r.stderr}`);
}

/** What the attacker's pages do: a form that posts itself, or scripts posting with the cookie. */
function attackerPage(kind: string, daemon: string): string {
  // text/plain forms send `name=value`: a name ending in `"x":"` makes the body parse as JSON.
  const json = (o: object) => JSON.stringify(o).slice(0, -1) + ',"x":"';
  const rollback = {
    resolution: {
      spec: { project: "e2e", env: "development", target: { kind: "process" } },
      snapshot: { project: "e2e", env: "development", target: { kind: "process" } },
      secrets: {},
      vars: {},
      light: true,
    },
    args: { revision: 1 },
  };
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/'/g, "&#39;");
  const form = (path: string, body: object) =>
    `<form id="f" method="POST" enctype="text/plain" action="${daemon}${path}">` +
    `<input name='${esc(json(body))}' value='"}'></form><script>document.getElementById("f").submit()</script>`;
  if (kind === "form-rollback") return form("/v1/ops/rollback", rollback);
  if (kind === "form-login") return form("/v1/session", { name: "mallory", password: "mallory-password" });
  if (kind === "scripts")
    return `<script>
      const d = ${JSON.stringify(daemon)};
      const user = JSON.stringify({ name: "mallory", role: "admin", password: "mallory-password-1" });
      const rollback = ${JSON.stringify(JSON.stringify(rollback))};
      window.results = Promise.all([
        // A "simple" request (no preflight): sent with the cookie, its answer unreadable here.
        fetch(d + "/v1/users", { method: "POST", mode: "no-cors", credentials: "include",
          headers: { "content-type": "text/plain" }, body: user }).then(() => "sent", (e) => "blocked: " + e.message),
        fetch(d + "/v1/ops/rollback", { method: "POST", mode: "no-cors", credentials: "include",
          headers: { "content-type": "text/plain" }, body: rollback }).then(() => "sent", (e) => "blocked: " + e.message),
        // With a guessed CSRF header: the browser asks first (OPTIONS), and the daemon allows no CORS.
        fetch(d + "/v1/ops/rollback", { method: "POST", credentials: "include",
          headers: { "content-type": "application/json", "x-slipway-csrf": "guess" }, body: rollback })
          .then((r) => "answered " + r.status, (e) => "blocked: " + e.message),
      ]);
    </script>`;
  return "<p>attacker</p>";
}

/** GET/POST with a chosen Host header (fetch() would not let us set it). */
function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function logIn(page: Page, base: string, name: string, password = `${name}-password-1`): Promise<void> {
  await page.goto(base);
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

const sessionCookie = async (ctx: BrowserContext) =>
  (await ctx.cookies()).find((c) => c.name === "slipway_session");

beforeAll(async () => {
  [main, short] = await Promise.all([makeProject(), makeProject()]);
  // The short-lived daemon is started by hand with the option under test; the CLI then uses it.
  shortDaemon = spawn(process.execPath, [BIN, "serve", "--port", "0", "--session-ttl", `${SHORT_TTL_S}s`], {
    env: short.env,
    stdio: "ignore",
  });
  for (const v of ["v1", "v2"]) {
    const d = main.cli(["deploy", "development", "--version", v]);
    if (d.code !== 0) throw new Error(`deploy ${v}: ${d.stderr}`);
  }
  await waitFor(
    () => existsSync(`${short.home}/daemon.json`) && daemonInfo(short.home).pid === shortDaemon.pid,
    {
      what: "the daemon started with --session-ttl",
    },
  );
  addUser(main, "ada", "admin");
  addUser(short, "sam", "viewer");
  url = daemonInfo(main.home).url;
  shortUrl = daemonInfo(short.home).url;
  attackerPort = await freePort();
  attacker = createServer((req, res) => {
    const kind = new URL(req.url ?? "/", "http://x").searchParams.get("kind") ?? "";
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><title>cute cats</title>${attackerPage(kind, url)}`);
  });
  await new Promise<void>((r) => attacker.listen(attackerPort, "127.0.0.1", r));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      // Names an attacker controls, resolving to this machine (DNS rebinding, another site).
      "--host-resolver-rules=MAP evil.test 127.0.0.1, MAP attacker.test 127.0.0.1",
    ],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  attacker?.close();
  shortDaemon?.kill("SIGKILL");
  await Promise.all([main?.cleanup(), short?.cleanup()]);
});

describe.skipIf(!existsSync(CHROMIUM))("the dashboard's defences in Chromium", () => {
  it("a session expires: the cookie replayed gets 401, the page goes back to the login at its next call and on reload", async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await logIn(page, shortUrl, "sam");
    await page.getByRole("button", { name: "Log out" }).waitFor();
    const cookie = await sessionCookie(ctx);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", secure: false });
    // The browser is told to drop it when the session ends.
    expect(cookie!.expires * 1000).toBeLessThanOrEqual(Date.now() + SHORT_TTL_S * 1000 + 1000);
    const withCookie = { cookie: `slipway_session=${cookie!.value}` };
    const before = await raw(shortUrl, "GET", "/v1/environments", withCookie);
    expect(before.status).toBe(200);

    await new Promise((r) => setTimeout(r, SHORT_TTL_S * 1000 + 500));
    // The daemon itself refuses the session, whatever a client does with the cookie.
    const after = await raw(shortUrl, "GET", "/v1/environments", withCookie);
    expect(after.status).toBe(401);
    expect(after.body).toContain("session expired: log in again");
    expect((await raw(shortUrl, "GET", "/v1/session", withCookie)).status).toBe(401);

    const fromPage = await page.evaluate(async () => (await fetch("/v1/environments")).status);
    expect(fromPage).toBe(401);
    // Without a reload: the next call the page itself makes (opening an environment) is answered
    // 401, and the page goes back to the login, saying why.
    await page.evaluate(() => {
      window.location.hash = "#/env/nowhere/none";
    });
    await page.getByLabel("User name").waitFor();
    expect(await page.getByText(/Your session ended \(.+\)\. Log in again\./).count()).toBe(1);
    await page.reload();
    await page.getByLabel("User name").waitFor();
    expect(await page.getByRole("button", { name: "Log out" }).count()).toBe(0);
    // Logging in again gives a new, working session.
    await page.getByLabel("User name").fill("sam");
    await page.getByLabel("Password").fill("sam-password-1");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("button", { name: "Log out" }).waitFor();
    expect((await sessionCookie(ctx))!.value).not.toBe(cookie!.value);
    await ctx.close();
  });

  it("CSRF: forms and scripts of another origin cannot change anything with an admin's session", async () => {
    const history = () => main.cli(["history", "development", "--json"]).json<{ result: unknown[] }>().result;
    const users = () => main.cli(["users", "list", "--json"]).stdout;
    const before = { history: history(), users: users() };
    expect(before.history).toHaveLength(2);
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await logIn(page, url, "ada");
    await page.getByRole("button", { name: "Log out" }).waitFor();

    // 127.0.0.1:other is another origin but the same site: the Strict cookie is sent, and the
    // daemon's Origin check is what refuses. attacker.test is another site: no cookie at all.
    for (const [site, status, reason] of [
      [`http://127.0.0.1:${attackerPort}`, 403, "cross-origin request from"],
      [`http://attacker.test:${attackerPort}`, 401, "log in"],
    ] as const) {
      const answer = page.waitForResponse((r) => r.url() === `${url}/v1/ops/rollback`);
      await page.goto(`${site}/?kind=form-rollback`);
      const res = await answer;
      expect(res.status()).toBe(status);
      expect(await res.text()).toContain(reason);
    }
    const login = page.waitForResponse((r) => r.url() === `${url}/v1/session`);
    await page.goto(`http://127.0.0.1:${attackerPort}/?kind=form-login`);
    expect((await login).status()).toBe(403);
    expect(await (await login).text()).toContain("cross-origin login from");

    const seen: { url: string; method: string; status: number }[] = [];
    page.on("response", (r) => {
      if (r.url().startsWith(url))
        seen.push({ url: r.url(), method: r.request().method(), status: r.status() });
    });
    await page.goto(`http://127.0.0.1:${attackerPort}/?kind=scripts`);
    const results = await page.evaluate(() => (window as unknown as { results: Promise<string[]> }).results);
    expect(results[0]).toBe("sent");
    expect(results[1]).toBe("sent");
    expect(results[2]).toMatch(/^blocked: /); // the preflight found no CORS permission
    await expect.poll(() => seen.filter((s) => s.method === "POST").length).toBe(2);
    // Their answers are opaque to the page (and to the test: no body); for an admin's session a
    // 403 can only be the cross-origin refusal (without the cookie it would be 401).
    for (const s of seen.filter((x) => x.method === "POST")) expect(s.status).toBe(403);

    expect(history()).toEqual(before.history);
    expect(users()).toBe(before.users);
    expect((await main.get("web")).body).toBe("v2");
    // The same session from the daemon's own page can still act: the refusals were about origin.
    const own = await (await ctx.newPage()).goto(url);
    expect(own?.status()).toBe(200);
    await ctx.close();
  });

  it("a Host name not on the allow-list is refused (DNS rebinding), even with the right password", async () => {
    for (const [method, path, body] of [
      ["GET", "/", undefined],
      ["GET", "/v1/environments", undefined],
      ["POST", "/v1/session", JSON.stringify({ name: "ada", password: "ada-password-1" })],
    ] as const) {
      const r = await raw(
        url,
        method,
        path,
        { host: "evil.example", "content-type": "application/json" },
        body,
      );
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(JSON.parse(r.body).error.message).toContain('Host "evil.example" is not one this daemon serves');
    }
    // The same request with the daemon's own name succeeds: the Host is what was refused.
    const ok = await raw(
      url,
      "POST",
      "/v1/session",
      { host: new URL(url).host, "content-type": "application/json" },
      JSON.stringify({ name: "ada", password: "ada-password-1" }),
    );
    expect(ok.status).toBe(200);

    // A page served under a name that now resolves to this machine, as after a rebinding.
    const page = await browser.newPage();
    const port = new URL(url).port;
    const res = await page.goto(`http://evil.test:${port}/`);
    expect(res?.status()).toBe(403);
    const refusal = JSON.parse((await page.textContent("body")) ?? "{}") as { error: { message: string } };
    expect(refusal.error.message).toContain(`Host "evil.test:${port}" is not one this daemon serves`);
    const login = await page.evaluate(async () => {
      const r = await fetch("/v1/session", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "ada", password: "ada-password-1" }),
      });
      return { status: r.status, cookie: document.cookie };
    });
    expect(login.status).toBe(403);
    expect(await page.context().cookies()).toEqual([]);
    await page.close();
  });

  // Last: the limit counts per client address too, so every login from 127.0.0.1 waits afterwards.
  it("wrong passwords are rate-limited: after five, even the right one is refused for a while", async () => {
    const page = await browser.newPage();
    await page.goto(shortUrl);
    for (let i = 1; i <= 5; i++) {
      await page.getByLabel("User name").fill("sam");
      await page.getByLabel("Password").fill(`guess-${i}`);
      const answer = page.waitForResponse((r) => r.url() === `${shortUrl}/v1/session`);
      await page.getByRole("button", { name: "Log in" }).click();
      expect((await answer).status()).toBe(401);
    }
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("wrong user name or password");
    await page.getByLabel("Password").fill("sam-password-1");
    const answer = page.waitForResponse((r) => r.url() === `${shortUrl}/v1/session`);
    await page.getByRole("button", { name: "Log in" }).click();
    const res = await answer;
    expect(res.status()).toBe(429);
    expect(Number(res.headers()["retry-after"])).toBeGreaterThan(0);
    await expect
      .poll(() => page.getByRole("alert").textContent())
      .toMatch(/too many failed logins: try again in \d+ s/);
    expect(await page.getByRole("button", { name: "Log out" }).count()).toBe(0);
    // Another user name from the same address waits too (the limit is per address and per name).
    const other = await raw(
      shortUrl,
      "POST",
      "/v1/session",
      { "content-type": "application/json" },
      JSON.stringify({ name: "nobody", password: "x" }),
    );
    expect(other.status).toBe(429);
    await page.close();
  });
});
