/**
 * Alerts as users meet them: the real CLI and daemon, a webhook channel pointing at an HTTP
 * receiver this test runs, routes by severity, silences, and a daemon restart with deliveries
 * still pending.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { BIN, killDaemon, makeProject, waitFor, type CliResult, type Project } from "./harness.js";

interface Hook {
  raw: string;
  signature: string;
  body: {
    test: boolean;
    status: string;
    title: string;
    alerts: { labels: Record<string, string>; severity: string; message: string }[];
  };
}

/** A webhook receiver; `failing` makes it answer 503 (the outbox retries). */
async function receiver(): Promise<{
  url: string;
  hooks: Hook[];
  failing: { on: boolean };
  close(): Promise<void>;
}> {
  const hooks: Hook[] = [];
  const failing = { on: false };
  const port = await freePort();
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (raw += d));
    req.on("end", () => {
      if (failing.on) {
        res.writeHead(503);
        res.end("down for maintenance");
        return;
      }
      hooks.push({
        raw,
        signature: String(req.headers["x-slipway-signature"]),
        body: JSON.parse(raw) as Hook["body"],
      });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${port}/hook`,
    hooks,
    failing,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const ALERTS = `alerts:
  channels:
    hooks: { type: webhook, url: "\${ALERT_WEBHOOK_URL}", secret: "\${ALERT_WEBHOOK_SECRET}" }
  routes:
    - { match: { severity: critical }, receivers: [hooks] }
    - { match: { severity: warning }, receivers: [hooks] }
  groupWait: 500ms
  groupInterval: 1s
`;

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...filesUnder(p));
    else if (st?.isFile()) out.push(p);
  }
  return out;
}

let project: Project | undefined;
let hook: Awaited<ReturnType<typeof receiver>> | undefined;
let daemon: ChildProcess | undefined;
afterEach(async () => {
  daemon?.kill("SIGKILL");
  daemon = undefined;
  await project?.cleanup();
  project = undefined;
  await hook?.close();
  hook = undefined;
});

describe("alerts", () => {
  it("deliver a failed deploy signed, test the routes, obey silences, never leak the secret", async () => {
    const h = (hook = await receiver());
    const p = (project = await makeProject(ALERTS));
    const secret = randomBytes(24).toString("hex");
    const env = { ALERT_WEBHOOK_URL: h.url, ALERT_WEBHOOK_SECRET: secret };
    const outputs: string[] = [];
    // Asynchronous: the receiver lives in this process and must answer while the CLI runs.
    const run = async (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> => {
      const r = await p.cliAsync(args, { env: { ...env, ...extra } });
      outputs.push(r.stdout, r.stderr);
      return r;
    };
    const failed = () => h.hooks.filter((x) => x.body.alerts.some((a) => a.labels.event === "deploy.failed"));

    expect((await run(["deploy", "development", "--version", "v1"])).code).toBe(0);
    const bad = await run(["deploy", "development", "--version", "v2"], {
      FAIL_HEALTH: "1",
      START_TIMEOUT: "2s",
    });
    expect(bad.code, bad.stderr).toBe(1);
    await waitFor(() => failed().length > 0, { what: "the deploy.failed webhook", timeoutMs: 20_000 });
    const [f] = failed();
    const expected = "sha256=" + createHmac("sha256", secret).update(f.raw).digest("hex");
    expect(timingSafeEqual(Buffer.from(f.signature), Buffer.from(expected))).toBe(true);
    expect(f.body.test).toBe(false);
    expect(f.body.alerts).toHaveLength(1);
    expect(f.body.alerts[0]).toMatchObject({
      severity: "critical",
      labels: { event: "deploy.failed", environment: "development", project: "e2e" },
    });
    expect(f.body.alerts[0].message).toMatch(/revision 2 failed/);
    // info events (deploy.started, deploy.succeeded) match no route.
    expect(h.hooks.every((x) => x.body.alerts.every((a) => a.severity !== "info"))).toBe(true);

    // alerts test: sent now, reported per receiver.
    const t = await run(["alerts", "test", "development", "--severity", "warning"]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/✔ hooks \(webhook\): sent/);
    const tests = () => h.hooks.filter((x) => x.body.test);
    expect(tests()).toHaveLength(1);
    expect(tests()[0].body.alerts[0].severity).toBe("warning");

    // The delivery log.
    const list = (await run(["alerts", "list", "development", "--json"])).json<{
      result: {
        deliveries: { receiver: string; status: string; attempts: number; title: string; test: boolean }[];
      };
    }>();
    expect(list.result.deliveries.map((d) => [d.receiver, d.status, d.test])).toEqual([
      ["hooks", "sent", true],
      ["hooks", "sent", false],
    ]);
    expect(list.result.deliveries[1].title).toMatch(/deploy\.failed|failed/);
    const human = await run(["alerts", "list", "development"]);
    expect(human.stdout).toMatch(/TIME\s+RECEIVER\s+STATUS\s+ATTEMPTS\s+TITLE/);
    expect(human.stdout).toMatch(/hooks\s+sent\s+1\s+\[TEST\] warning/);

    // The same operations without a daemon.
    const ip = await run(["alerts", "test", "development", "--in-process", "--json"]);
    expect(ip.code, ip.stderr).toBe(0);
    expect(ip.json<{ result: { deliveries: { status: string }[] } }>().result.deliveries).toEqual([
      expect.objectContaining({ receiver: "hooks", status: "sent" }),
    ]);
    const ipList = (await run(["alerts", "list", "development", "--in-process", "--json"])).json<{
      result: { deliveries: unknown[] };
    }>();
    expect(ipList.result.deliveries).toHaveLength(3);

    // A silence holds the test back; expiring it lets the next one through.
    const add = await run([
      "silence",
      "add",
      "development",
      "severity=warning",
      "--for",
      "2h",
      "--comment",
      "db maintenance",
      "--author",
      "kim",
      "--json",
    ]);
    expect(add.code, add.stderr).toBe(0);
    const sil = add.json<{ result: { id: string; state: string; author: string } }>().result;
    expect(sil).toMatchObject({ state: "active", author: "kim" });
    expect((await run(["silence", "list", "development"])).stdout).toContain(sil.id);
    const held = await run(["alerts", "test", "development", "--severity", "warning"]);
    expect(held.code).toBe(0);
    expect(held.stdout).toContain(`silenced by ${sil.id}`);
    expect(tests()).toHaveLength(2);
    expect((await run(["silence", "expire", "development", sil.id])).code).toBe(0);
    expect((await run(["silence", "list", "development"])).stdout).toBe("no silences\n");
    expect((await run(["alerts", "test", "development", "--severity", "warning"])).code).toBe(0);
    expect(tests()).toHaveLength(3);

    // Bad input: exit 2 with a message naming what is wrong.
    const usage: [string[], RegExp][] = [
      [["silence", "add", "development", "--for", "2h", "--comment", "x"], /matcher/],
      [
        ["silence", "add", "development", "service", "--for", "2h", "--comment", "x"],
        /"service" is not a matcher/,
      ],
      [["silence", "add", "development", "service=api", "--comment", "x"], /--for is required/],
      [["silence", "add", "development", "service=api", "--for", "soon", "--comment", "x"], /--for "soon"/],
      [["silence", "add", "development", "service=api", "--for", "2h"], /--comment is required/],
      [["silence", "expire", "development", "sil-nope"], /no silence "sil-nope"/],
      [
        ["alerts", "test", "development", "--severity", "loud"],
        /--severity: expected one of critical, warning, info/,
      ],
      [["alerts", "list", "development", "--limit", "x"], /--limit/],
    ];
    for (const [args, msg] of usage) {
      const r = await run(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(msg);
    }

    // Still exactly one deploy.failed notification.
    expect(failed()).toHaveLength(1);

    // The secret is in no output and in no file under SLIPWAY_HOME (the stored config keeps the template).
    expect(outputs.join("\n")).not.toContain(secret);
    const files = filesUnder(p.home);
    const leaks = files.filter((file) => readFileSync(file).includes(secret));
    expect(leaks).toEqual([]);
    expect(files.some((file) => readFileSync(file).includes("${ALERT_WEBHOOK_SECRET}"))).toBe(true);
  }, 90_000);

  it("deliveries pending when the daemon dies go out after a restart, from the stored redacted config", async () => {
    const h = (hook = await receiver());
    const p = (project = await makeProject(ALERTS));
    const secret = randomBytes(24).toString("hex");
    const env = { ALERT_WEBHOOK_URL: h.url, ALERT_WEBHOOK_SECRET: secret };
    h.failing.on = true;
    const t = await p.cliAsync(["alerts", "test", "development"], { env });
    // The receiver answers 503: the test reports the delivery as still pending (retried by the daemon).
    expect(t.code).toBe(1);
    expect(t.stdout).toMatch(/hooks \(webhook\): not sent yet after 1 attempt.*503/);
    killDaemon(p.home);
    h.failing.on = false;
    expect(h.hooks).toHaveLength(0);
    // A new daemon with the variables in its own environment; no operation brings the config.
    daemon = spawn(process.execPath, [BIN, "serve", "--port", "0"], {
      env: { ...p.env, ...env },
      stdio: "ignore",
    });
    await waitFor(() => h.hooks.length > 0, {
      what: "the pending delivery after the restart",
      timeoutMs: 20_000,
    });
    expect(h.hooks[0].body.test).toBe(true);
    const expected = "sha256=" + createHmac("sha256", secret).update(h.hooks[0].raw).digest("hex");
    expect(h.hooks[0].signature).toBe(expected);
  }, 60_000);

  it("a crash-looping service raises health.degraded, and its recovery resolves it", async () => {
    const h = (hook = await receiver());
    const p = (project = await makeProject(ALERTS));
    const flag = join(p.dir, "crash.flag");
    writeFileSync(join(p.dir, "app", "crashy.js"), CRASHY);
    writeFileSync(
      p.file,
      `project: e2e
environments:
  development: { target: process }
services:
  api:
    run: node crashy.js
    path: ./app
    port: ${p.ports.api}
    env: { CRASH_FLAG: "${flag}" }
    health: { http: /health, interval: 200ms, timeout: 1s }
    restart: { backoff: 100ms, maxBackoff: 500ms, crashLoop: { restarts: 3, within: 3s } }
    stop: { grace: 2s }
${ALERTS}`,
    );
    const env = { ALERT_WEBHOOK_URL: h.url, ALERT_WEBHOOK_SECRET: randomBytes(24).toString("hex") };
    const d = await p.cliAsync(["deploy", "development", "--version", "v1"], { env });
    expect(d.code, d.stderr).toBe(0);
    const of = (event: string, status: string) =>
      h.hooks.filter((x) => x.body.status === status && x.body.alerts.some((a) => a.labels.event === event));
    // The app now crashes at every start: the supervisor restarts it until it calls it a crash loop.
    writeFileSync(flag, "");
    await p.get("api", "/crash").catch(() => undefined);
    await waitFor(() => of("health.degraded", "firing").length > 0, {
      what: "health.degraded from the daemon's housekeeping",
      timeoutMs: 30_000,
    });
    const [firing] = of("health.degraded", "firing");
    expect(firing.body.alerts[0]).toMatchObject({ severity: "critical", labels: { service: "api" } });
    expect(firing.body.alerts[0].message).toMatch(/api is crash-looping \(1 of 1 instance/);
    rmSync(flag);
    await waitFor(() => of("health.degraded", "resolved").length > 0, {
      what: "the resolved notification after the service recovered",
      timeoutMs: 30_000,
    });
    expect(of("health.degraded", "firing")).toHaveLength(1);
  }, 90_000);
});

const CRASHY = `
import { createServer } from "node:http";
import { existsSync } from "node:fs";
if (existsSync(process.env.CRASH_FLAG)) { console.error("crash flag present"); process.exit(3); }
createServer((req, res) => {
  if (req.url === "/crash") { res.end("bye"); setTimeout(() => process.exit(3), 20); return; }
  res.end("ok");
}).listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;
