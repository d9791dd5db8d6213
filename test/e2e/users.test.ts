/**
 * Users, tokens and roles through the real CLI and a real daemon: the local CLI is admin over
 * the daemon's 0600 unix socket with no set-up; a token's role is enforced over TCP; the TCP
 * listener refuses plain HTTP off loopback unless told.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { BIN, daemonInfo, killDaemon, makeProject, type Project } from "./harness.js";

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

describe("users and tokens from the CLI", () => {
  it("the local owner manages users and tokens over the socket; roles hold over TCP", async () => {
    const p = (project = await makeProject());
    const add = p.cli(
      ["users", "add", "alice", "--role", "deployer", "--env", "production=viewer", "--password-stdin"],
      {
        input: "correct horse battery staple\n",
      },
    );
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain("✔ added alice (deployer, production=viewer)");
    const sock = daemonInfo(p.home).socket;
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const list = p.cli(["users", "list", "--json"]);
    expect(list.json<{ result: { users: unknown[] } }>().result.users).toEqual([
      expect.objectContaining({
        name: "alice",
        role: "deployer",
        grants: { production: "viewer" },
        hasPassword: true,
      }),
    ]);
    expect(list.stdout).not.toContain("scrypt");
    expect(p.cli(["users", "add", "alice", "--role", "admin"]).code).toBe(2);
    expect(p.cli(["users", "add", "bob", "--role", "boss"]).code).toBe(2);

    const viewer = p.token("watcher", "viewer", ["--expires", "90d"]);
    expect(viewer).toMatch(/^swt_/);
    const tokens = p.cli(["tokens", "list", "--json"]);
    expect(tokens.stdout).toContain('"watcher"');
    expect(tokens.stdout).not.toContain(viewer);

    // The same local daemon over TCP with the viewer's token: reading works, deploying is refused (4).
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    const st = p.cli(["status", "development", "--token", viewer, "--json"]);
    expect(st.code, st.stderr).toBe(0);
    const d = p.cli(["deploy", "development", "--version", "v2", "--token", viewer]);
    expect(d.code).toBe(4);
    expect(d.stderr).toContain(
      "token:watcher is viewer on e2e/development; to deploy needs deployer or above (403)",
    );
    expect((await p.get("web")).body).toBe("v1");
    // Audited: the daemon log (and the store's timeline) names who was refused what.
    expect(readFileSync(join(p.home, "daemon.log"), "utf8")).toContain(
      "token:watcher was refused deploy on e2e/development: token:watcher is viewer",
    );
    const rb = p.cli(["rollback", "development", "--token", viewer]);
    expect(rb.code).toBe(4);

    expect(p.cli(["tokens", "revoke", "watcher"]).code).toBe(0);
    const gone = p.cli(["status", "development", "--token", viewer]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/refused the credentials: unknown or revoked token/);
    // A mistyped short token is an unknown token, not a "malformed Authorization header".
    const short = p.cli(["status", "development", "--token", "swt_bogus"]);
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/refused the credentials: unknown or revoked token/);
  });

  it("an operator's backup over TCP uses the values the last deploy brought (backup.paths: ${DATA_DIR})", async () => {
    const p = (project = await makeProject(`  notes:
    run: node worker.js
    path: ./app
    env: { RELEASE: "\${VERSION}" }
    stop: { grace: 2s }
    backup: { type: files, paths: ["\${DATA_DIR}"] }
`));
    const data = join(p.dir, "data");
    mkdirSync(data);
    writeFileSync(join(data, "notes.txt"), "hello");
    p.env.DATA_DIR = data;
    const d = p.cli(["deploy", "development", "--version", "v1"]);
    expect(d.code, d.stderr).toBe(0);
    const operator = p.token("oncall", "operator", ["--expires", "1d"]);
    // The daemon works from the deployed revision (the operator's spec body is not used), whose
    // snapshot keeps ${DATA_DIR} as a template: the value comes from the deploy that brought it.
    const b = p.cli(["backup", "development", "notes", "--token", operator, "--json"], {
      env: { DATA_DIR: "/nonexistent-operator-value" },
    });
    expect(b.code, b.stderr).toBe(0);
    const list = p.cli(["backups", "development", "--service", "notes", "--json"]);
    const [rec] = list.json<{ result: { backups: { status: string; size: number }[] } }>().result.backups;
    expect(rec).toMatchObject({ status: "ok" });
    expect(rec.size).toBeGreaterThan(0);

    // A restarted daemon has no value for DATA_DIR until an operation brings one: the operator's
    // backup is refused naming it (it used to archive "" — the whole project directory).
    killDaemon(p.home);
    const again = p.cli(["backup", "development", "notes", "--token", operator]);
    expect(again.code, again.stderr).toBe(1);
    expect(again.stderr).toContain("no value for DATA_DIR");
    const after = p.cli(["backups", "development", "--service", "notes", "--json"]);
    expect(after.json<{ result: { backups: unknown[] } }>().result.backups).toHaveLength(1);
  });

  it("serve refuses plain HTTP off loopback unless --insecure-http, which warns", async () => {
    const p = (project = await makeProject());
    const refused = p.cli(["serve", "--host", "0.0.0.0", "--port", "0"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /not a loopback address: give --tls-cert and --tls-key, or --insecure-http/,
    );
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--host", "0.0.0.0", "--port", String(port), "--insecure-http"],
      {
        env: p.env,
      },
    );
    let err = "";
    child.stderr.on("data", (x) => (err += x));
    try {
      for (let i = 0; i < 100 && !/listening/.test(err); i++) await new Promise((r) => setTimeout(r, 100));
      expect(err).toMatch(/WARNING: serving plain HTTP on 0\.0\.0\.0/);
      const r = await fetch(`http://127.0.0.1:${port}/v1/health`);
      expect(r.status).toBe(200);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });
});

/** A self-signed certificate for 127.0.0.1 (openssl), used as its own CA by the clients. */
function selfSigned(dir: string): { cert: string; key: string } {
  const cert = join(dir, "tls.crt");
  const key = join(dir, "tls.key");
  const r = spawnSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
  ]);
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

function httpsCall(
  url: string,
  ca: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: o.method ?? "GET", headers: o.headers, ca, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

describe("the TCP listener with TLS", () => {
  it("serves HTTPS off --tls-cert/--tls-key: Secure session cookies, the CLI with --server https://", async () => {
    const p = (project = await makeProject());
    const tls = selfSigned(p.dir);
    const ca = readFileSync(tls.cert, "utf8");
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--port", String(port), "--tls-cert", tls.cert, "--tls-key", tls.key],
      {
        env: p.env,
      },
    );
    let err = "";
    child.stderr.on("data", (x) => (err += x));
    try {
      for (let i = 0; i < 150 && !/listening/.test(err); i++) await new Promise((r) => setTimeout(r, 100));
      expect(daemonInfo(p.home).url).toBe(`https://127.0.0.1:${port}`);
      // The local CLI reaches the same daemon over its socket, as admin.
      const add = p.cli(["users", "add", "olga", "--role", "operator", "--password-stdin"], {
        input: "correct horse battery staple",
      });
      expect(add.code, add.stderr).toBe(0);
      const base = `https://127.0.0.1:${port}`;
      const login = await httpsCall(`${base}/v1/session`, ca, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "olga", password: "correct horse battery staple" }),
      });
      expect(login.status).toBe(200);
      const cookie = String(login.headers["set-cookie"]);
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      expect(cookie).toMatch(/; Secure/);
      const who = await httpsCall(`${base}/v1/session`, ca, { headers: { cookie: cookie.split(";")[0] } });
      expect(JSON.parse(who.body)).toMatchObject({ actor: "olga", role: "operator" });
      const token = p.token("remote", "viewer");
      const st = p.cli(["--server", base, "--token", token, "lock", "development", "--json"], {
        env: { NODE_EXTRA_CA_CERTS: tls.cert },
      });
      expect(st.code, st.stderr).toBe(0);
      expect(st.json<{ result: { lock: null } }>().result.lock).toBeNull();
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });
});
