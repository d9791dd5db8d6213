/**
 * Secret canaries (issue 11): a value in an environment env file, one in a service env file, one
 * in the caller's environment and a short URL password. An app prints them all and fails its
 * health check; a migration prints them and fails. No canary may reach any CLI output (human and
 * --json, stdout and stderr), `history --json` (each revision with its steps), any file under
 * SLIPWAY_HOME but the app's logs, any alert payload (a webhook receiver), the daemon's /metrics,
 * or any API response (the CLI's requests go through a recording proxy to the daemon).
 */
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookAlerts } from "../support/deployed-env.js";
import { startHttpReceiver, type HttpReceiver } from "../support/receivers.js";
import { makeProject, type CliResult, type Project } from "./harness.js";

const CANARIES = {
  envLevel: "cnry-envlevel-4417",
  serviceFile: "cnry-svcfile-7731",
  caller: "cnry-caller-5510",
  // Short: hidden because it is a URL's password, not because it is long.
  urlPassword: "k9Zq",
};

const APP = `
import { createServer } from "node:http";
console.log("env-level " + process.env.ENV_CANARY);
console.log("service file " + process.env.FILE_CANARY);
console.log("caller " + process.env.CALLER_CANARY);
console.log("url " + process.env.DATABASE_URL);
const srv = createServer((req, res) => { res.writeHead(process.env.HEALTHY === "1" ? 200 : 500); res.end("?"); });
srv.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;

const MIGRATE = `#!/bin/sh
echo "migrating with $ENV_CANARY $FILE_CANARY $CALLER_CANARY $DATABASE_URL"
[ "$MIGRATE_FAIL" = "1" ] || exit 0
echo "failed: $DATABASE_URL password=$CALLER_CANARY" >&2
exit 1
`;

function spec(port: number): string {
  return `project: canary
environments:
  development:
    target: process
    envFile: .env.dev
services:
  api:
    run: node canary.js
    path: ./app
    port: ${port}
    envFile: ./service.env
    env:
      RELEASE: "\${VERSION}"
      ENV_CANARY: "\${ENV_CANARY}"
      CALLER_CANARY: "\${CALLER_CANARY}"
      DATABASE_URL: "postgres://app:\${URL_PW}@127.0.0.1:9/db"
      MIGRATE_FAIL: "\${MIGRATE_FAIL:-0}"
      HEALTHY: "\${HEALTHY:-0}"
    migrate: { up: sh migrate.sh }
    health: { http: /health, interval: 200ms, timeout: 1s, startTimeout: 3s }
    stop: { grace: 1s }
${webhookAlerts("HOOK_URL")}`;
}

let p: Project | undefined;
let hook: HttpReceiver | undefined;
let recorder: Server | undefined;
/** Every response body the daemon sent through the recording proxy. */
const responses: { path: string; body: string }[] = [];
const outputs: { what: string; r: CliResult }[] = [];
const callerEnv: NodeJS.ProcessEnv = { CALLER_CANARY: CANARIES.caller, URL_PW: CANARIES.urlPassword };

/** A reverse proxy to the daemon that keeps every response body (the API as a client sees it). */
async function recordingProxy(target: string): Promise<string> {
  const t = new URL(target);
  recorder = createServer((req, res) => {
    const up = request(
      { host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        let body = "";
        r.on("data", (d: Buffer) => {
          body += d.toString();
          res.write(d);
        });
        r.on("end", () => {
          responses.push({ path: req.url ?? "", body });
          res.end();
        });
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((r) => recorder!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
}

function cli(what: string, args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = p!.cli(args, { env: { ...callerEnv, ...env } });
  outputs.push({ what, r });
  return r;
}

function leaks(text: string): string[] {
  return Object.entries(CANARIES)
    .filter(([, v]) => text.includes(v))
    .map(([k]) => k);
}

/** Every file under `dir`, but the app's own logs (the app printed the canaries itself). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(path));
    else if (e.isFile()) out.push(path);
  }
  return out;
}

function isAppLog(home: string, path: string): boolean {
  const rel = relative(home, path);
  return /(^|\/)logs\//.test(rel) && /\.log(\.\d+)?$/.test(rel) && !rel.startsWith("daemon");
}

beforeAll(async () => {
  p = await makeProject();
  writeFileSync(join(p.dir, "app", "canary.js"), APP);
  writeFileSync(join(p.dir, "app", "migrate.sh"), MIGRATE);
  chmodSync(join(p.dir, "app", "migrate.sh"), 0o755);
  writeFileSync(join(p.dir, ".env.dev"), `ENV_CANARY=${CANARIES.envLevel}\n`);
  writeFileSync(join(p.dir, "service.env"), `FILE_CANARY=${CANARIES.serviceFile}\n`);
  writeFileSync(p.file, spec(p.ports.api));
  hook = await startHttpReceiver();
  callerEnv.HOOK_URL = hook.url;
}, 60_000);

afterAll(async () => {
  p?.cli(["daemon", "stop"]);
  await p?.cleanup();
  await hook?.close();
  recorder?.close();
});

describe("secret canaries", () => {
  it("a failed health check and a failed migration print no secret, anywhere", async () => {
    const d1 = cli("deploy --json (health fails)", ["deploy", "development", "--version", "v1", "--json"]);
    expect(d1.code, d1.stdout + d1.stderr).toBe(1);
    expect(d1.stdout + d1.stderr).toContain("did not become healthy");
    const d2 = cli("deploy (health fails, human)", ["deploy", "development", "--version", "v2"]);
    expect(d2.code).toBe(1);
    const up = { MIGRATE_FAIL: "1" };
    const m1 = cli(
      "deploy --json (migration fails)",
      ["deploy", "development", "--version", "v3", "--json"],
      up,
    );
    expect(m1.code).toBe(1);
    const m2 = cli("deploy (migration fails, human)", ["deploy", "development", "--version", "v4"], up);
    expect(m2.code).toBe(1);
    cli("history --json", ["history", "development", "--json"]);
    cli("history", ["history", "development"]);
    cli("status --json", ["status", "development", "--json"]);
    // Each revision with its journal steps, read through the recording proxy (the raw API).
    const daemon = JSON.parse(readFileSync(join(p!.home, "daemon.json"), "utf8")) as { url: string };
    // A token for the TCP API (the local CLI uses the socket): the raw answers go through a proxy.
    const token = p!.token("canary-reader", "admin");
    const via = ["--server", await recordingProxy(daemon.url), "--token", token];
    // Asynchronously: the recording proxy runs in this process, which spawnSync would block.
    const viaProxy = async (what: string, a: string[]) =>
      outputs.push({ what, r: await p!.cliAsync([...via, ...a], { env: callerEnv }) });
    for (const n of ["1", "2", "3", "4"])
      await viaProxy(`history ${n} --json (API)`, ["history", "development", n, "--json"]);
    await viaProxy("status --json (API)", ["status", "development", "--json"]);
    await viaProxy("backups --json (API)", ["backups", "development", "--json"]);
    await viaProxy("alerts list --json (API)", ["alerts", "list", "development", "--json"]);
    expect(responses.length).toBeGreaterThan(3);
    const metrics = await fetch(`${daemon.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(metrics.status).toBe(200);
    const metricsText = await metrics.text();
    // The failed deploys alerted: wait for the webhook to have them.
    const deadline = Date.now() + 15_000;
    while (!hook!.requests.some((r) => r.body.includes("failed")) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(hook!.requests.length).toBeGreaterThan(0);

    const found: string[] = [];
    for (const { what, r } of outputs) {
      for (const [stream, text] of [
        ["stdout", r.stdout],
        ["stderr", r.stderr],
      ] as const) {
        const l = leaks(text);
        if (l.length) found.push(`${what} ${stream}: ${l.join(", ")}\n${text.slice(0, 2000)}`);
      }
    }
    for (const [what, text] of [
      ...responses.map((r) => [`API response ${r.path}`, r.body] as const),
      ...hook!.requests.map((r) => [`alert payload ${r.path}`, r.body] as const),
      ["daemon /metrics", metricsText] as const,
    ]) {
      const l = leaks(text);
      if (l.length) found.push(`${what}: ${l.join(", ")}\n${text.slice(0, 2000)}`);
    }
    for (const f of filesUnder(p!.home)) {
      if (isAppLog(p!.home, f) || statSync(f).size > 50_000_000) continue;
      const l = leaks(readFileSync(f).toString("latin1"));
      if (l.length) found.push(`${relative(p!.home, f)}: ${l.join(", ")}`);
    }
    expect(found).toEqual([]);
  }, 240_000);

  it("logs of a running release show no secret (a viewer reads logs, never secret values)", async () => {
    const d = cli("deploy (healthy)", ["deploy", "development", "--version", "v5"], { HEALTHY: "1" });
    expect(d.code, d.stderr).toBe(0);
    const local = cli("logs", ["logs", "development", "api", "--tail", "10"]);
    expect(local.code, local.stderr).toBe(0);
    const daemon = JSON.parse(readFileSync(join(p!.home, "daemon.json"), "utf8")) as { url: string };
    const viewer = p!.token("canary-viewer", "viewer");
    const remote = await p!.cliAsync([
      "--server",
      daemon.url,
      "--token",
      viewer,
      "logs",
      "development",
      "--json",
    ]);
    expect(remote.code, remote.stderr).toBe(0);
    for (const r of [local, remote]) {
      expect(r.stdout).toContain("env-level ***"); // the lines are there, the values are not
      expect(leaks(r.stdout + r.stderr)).toEqual([]);
    }
  }, 120_000);
});
