/**
 * examples/gpu-inference-stack (runbook 000), run as its README tells a reader to: the whole
 * stack on the real Docker Engine (memory limits, a stateful MariaDB stand-in and a real Redis
 * with volumes), a bad release under real load through the Slipway proxy rolled back by itself
 * on the runbook's 1 % error-rate threshold, the critical alert delivered to the phone-call, SMS
 * and Slack receivers, and the `gpu` environment refused by the pre-flight check on this machine.
 *
 * Stand-ins, said so: Twilio (voice, SMS), Slack and the SMTP server are local receivers
 * (test/support/receivers.ts) — no real account is called. The images build offline: the README's
 * BASE_IMAGE / REDIS_IMAGE variables point at the test images (scripts/build-test-images.sh).
 * The analysis windows are shortened through the spec's own variables (ANALYSIS_INTERVAL,
 * ANALYSIS_BAKE, ALERT_GROUP_WAIT); the thresholds are the runbook's.
 */
import { execFile } from "node:child_process";
import { cpSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestImages, removeProject } from "../support/docker.js";
import { freePort, waitFor } from "../support/ports.js";
import { startHttpReceiver, startSmtp, type HttpReceiver, type SmtpReceiver } from "../support/receivers.js";
import { dockerStack, type DockerStack } from "../docker/stack.js";
import { startLoad } from "../e2e/load.js";

const exec = promisify(execFile);
const EXAMPLE = resolve(import.meta.dirname, "..", "..", "examples", "gpu-inference-stack");
const PROJECT = "gpu-inference"; // the example's own project name

let stack: DockerStack;
let twilio: HttpReceiver;
let slack: HttpReceiver;
let smtp: SmtpReceiver;
let env: Record<string, string>;

async function removeImages(): Promise<void> {
  const { stdout } = await exec("docker", ["images", "-q", "--filter", `reference=slipway/${PROJECT}-*`]);
  const ids = [...new Set(stdout.split(/\s+/).filter(Boolean))];
  if (ids.length) await exec("docker", ["rmi", "-f", ...ids]).catch(() => undefined);
}

beforeAll(async () => {
  await ensureTestImages();
  await removeProject(PROJECT);
  stack = dockerStack("gpu", { inProcess: false });
  cpSync(EXAMPLE, stack.dir, { recursive: true });
  [twilio, slack, smtp] = await Promise.all([
    startHttpReceiver(),
    startHttpReceiver(),
    startSmtp("ops", "pw"),
  ]);
  const ports = await Promise.all(Array.from({ length: 7 }, () => freePort()));
  env = {
    // offline images (the README's "no registry" variables)
    BASE_IMAGE: "slipway-test/node:latest",
    REDIS_IMAGE: "slipway-test/redis:latest",
    // random free ports instead of the runbook's 8080, 3306, …
    API_PORT: String(ports[0]),
    CHAT_PORT: String(ports[1]),
    AUTH_PORT: String(ports[2]),
    LLM_PORT: String(ports[3]),
    VECTOR_DB_PORT: String(ports[4]),
    SEARCH_PORT: String(ports[5]),
    MARIADB_PORT: String(ports[6]),
    REDIS_PORT: String(await freePort()),
    // short windows, the runbook's thresholds
    ANALYSIS_INTERVAL: "1s",
    ANALYSIS_BAKE: "4s",
    ALERT_GROUP_WAIT: "500ms",
    // local stand-ins for Twilio, Slack and the mail server
    TWILIO_ACCOUNT_SID: "ACtest",
    TWILIO_TOKEN: "twilio-token",
    TWILIO_FROM: "+15550001",
    ONCALL_PHONE: "+821000000000",
    TWILIO_API_BASE: twilio.url,
    SLACK_WEBHOOK_URL: `${slack.url}/services/T/B/X`,
    SMTP_URL: smtp.url,
  };
}, 300_000);

afterAll(async () => {
  await stack?.teardown();
  await removeProject(PROJECT);
  await removeImages();
  await Promise.all([twilio?.close(), slack?.close(), smtp?.close()]);
}, 120_000);

describe("examples/gpu-inference-stack (runbook 000)", () => {
  it("deploys the stack, rolls a 5 %-error release back by itself and calls the on-call", async () => {
    const v1 = await stack.cli(["deploy", "local", "--version", "v1"], { env });
    expect(v1.code, v1.stderr + v1.stdout).toBe(0);

    // The runbook's memory limits, a volume for each database.
    const { stdout } = await exec("docker", [
      "ps",
      "--filter",
      `label=slipway.project=${PROJECT}`,
      "--format",
      '{{.Label "slipway.service"}}',
    ]);
    expect(new Set(stdout.split(/\s+/).filter(Boolean))).toEqual(
      new Set(["llm", "vector-db", "training", "api", "chat", "auth", "mariadb", "search", "redis"]),
    );
    const memory = async (svc: string) => {
      const ids = (
        await exec("docker", [
          "ps",
          "-q",
          "--filter",
          `label=slipway.project=${PROJECT}`,
          "--filter",
          `label=slipway.service=${svc}`,
        ])
      ).stdout.trim();
      return Number((await exec("docker", ["inspect", "-f", "{{.HostConfig.Memory}}", ids])).stdout.trim());
    };
    expect(await memory("llm")).toBe(64 * 2 ** 30);
    expect(await memory("auth")).toBe(4 * 2 ** 30);
    const vols = (
      await exec("docker", ["volume", "ls", "-q", "--filter", `label=slipway.project=${PROJECT}`])
    ).stdout;
    expect(vols).toContain("mariadb-data");
    expect(vols).toContain("redis-data");

    // Real load through the proxy on the api's public port, then a release that fails 5 % of it.
    const load = startLoad({ url: `http://127.0.0.1:${env.API_PORT}`, concurrency: 4, rate: 80 });
    try {
      await load.waitFor((s) => s.status === 200);
      const bad = await stack.cli(["deploy", "local", "--version", "v2"], {
        env: { ...env, API_ERROR_RATE: "0.05" },
      });
      expect(bad.code, bad.stderr).toBe(1);
      expect(bad.stderr).toMatch(/bake: (.*, )?error-rate [\d.]+ % \(\d+ req\) ✖/); // in the order the metrics arrive
      expect(bad.stderr).toContain("traffic back on the previous instances");
      const after = Date.now();
      const s = await load.waitFor((x) => x.t > after);
      expect(s.status).toBe(200);
      expect(s.version).toContain('"version":"v1"');
    } finally {
      await load.stop();
    }

    // Only the api changed: the other services kept running their revision 1 containers.
    const llmRevision = (
      await exec("docker", [
        "ps",
        "--filter",
        `label=slipway.project=${PROJECT}`,
        "--filter",
        "label=slipway.service=llm",
        "--format",
        '{{.Label "slipway.revision"}}',
      ])
    ).stdout.trim();
    expect(llmRevision).toBe("1");

    // The evidence in history: revision 2 failed on the 1 % error rate, with its measurements.
    const hist = await stack.cli(["history", "local", "2", "--json"], { env });
    const rev = (
      JSON.parse(hist.stdout) as {
        result: { revision: { status: string; reason?: string; facts: { analysis?: unknown[] } } }[];
      }
    ).result[0].revision;
    expect(rev.status).toBe("failed");
    expect(rev.reason).toMatch(/bake: analysis failed: error-rate [\d.]+ % > max 1 %/);
    expect(JSON.stringify(rev.facts.analysis)).toContain('"decidedBy":{"metric":"error-rate"');

    // The runbook's "back up first": the bad deploy took a Redis snapshot before changing anything.
    const backups = await stack.cli(["backups", "local", "--json"], { env });
    expect(backups.code, backups.stderr).toBe(0);
    expect(backups.stdout).toMatch(/"service":\s*"redis"/);

    // The critical alert (deploy.failed) reached the phone call, the SMS and Slack @channel.
    const calls = () => twilio.requests.filter((r) => r.path.endsWith("/Calls.json"));
    const sms = () => twilio.requests.filter((r) => r.path.endsWith("/Messages.json"));
    await waitFor(() => calls().length > 0 && sms().length > 0 && slack.requests.length > 0, {
      timeoutMs: 30_000,
      what: "the critical alert at the voice, SMS and Slack receivers",
    });
    expect(calls()[0].path).toBe("/2010-04-01/Accounts/ACtest/Calls.json");
    expect(decodeURIComponent(calls()[0].body)).toContain("To=+821000000000");
    expect(decodeURIComponent(sms()[0].body.replace(/\+/g, " "))).toMatch(/deploy\.failed/);
    expect(slack.requests[0].body).toContain("<!channel>");
    expect(slack.requests[0].body).toMatch(/critical/);
    expect(smtp.mails).toHaveLength(0); // e-mail is for warnings
  }, 240_000);

  it("refuses the gpu environment before any change: this engine has no NVIDIA runtime", async () => {
    // The GPU server is another machine; on this one engine the gpu environment gets ports of its
    // own (with local's, the port another environment serves is refused first, exit 4).
    const own = ["API", "CHAT", "AUTH", "LLM", "VECTOR_DB", "SEARCH", "MARIADB", "REDIS"].map(
      (k) => `${k}_PORT`,
    );
    const ports = await Promise.all(own.map(() => freePort()));
    const gpuEnv = { ...env, ...Object.fromEntries(own.map((k, i) => [k, String(ports[i])])) };
    const r = await stack.cli(["check", "gpu"], { env: gpuEnv });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/✖ gpu runtime on local/);
    expect(out).toMatch(
      /services llm, vector-db, training, api request GPUs, but local has no NVIDIA runtime/,
    );
    expect(out).toContain("install the NVIDIA Container Toolkit");
    // The deploy runs the same checklist first: refused, nothing started in the gpu environment.
    const d = await stack.cli(["deploy", "gpu", "--version", "v1"], { env: gpuEnv });
    expect(d.code, d.stdout + d.stderr).toBe(1);
    expect(d.stdout + d.stderr).toMatch(/gpu runtime on local/);
    const gpuContainers = await exec("docker", [
      "ps",
      "-aq",
      "--filter",
      "label=slipway.env=gpu",
      "--filter",
      `label=slipway.project=${PROJECT}`,
    ]);
    expect(gpuContainers.stdout.trim()).toBe("");
  }, 60_000);
});
