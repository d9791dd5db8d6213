/**
 * The dashboard's pages beyond the environment list, in Debian's Chromium against one real daemon
 * and one real process-target deployment with standing alert rules (a webhook receiver), a
 * files backup, a runbook and a metric analysis: open alerts on the cards, silencing an alert,
 * actions by role, backups with their verification, the analysis charts (past and live), the spec
 * diff between two revisions (a secret only as its reference) and logs (followed and by revision).
 */
import { writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP, daemonInfo, makeProject, type Project } from "../e2e/harness.js";
import { startHttpReceiver, type HttpReceiver } from "../support/receivers.js";
import { addUsers, hasChromium, launchChromium, logIn, shot } from "./browser.js";

const SECRET = "tok-very-secret-4242";
let project: Project;
let hooks: HttpReceiver;
let browser: Browser;
let url: string;

const extra = (hook: string) => `  files:
    run: node worker.js
    path: ./app
    env: { RELEASE: "\${VERSION}", MODE: blue }
    backup: { type: files, paths: [app/package.json] }
analysis:
  interval: 500ms
  bake: 2s
  metrics:
    - { name: api-memory, service: api, provider: driver, query: memoryBytes, max: 1Gi }
  watch: { autoRollbackWindow: 0s }
alerts:
  channels: { hooks: { type: webhook, url: "${hook}/hook" } }
  routes: [ { match: {}, receivers: [hooks] } ]
  groupWait: 100ms
rules:
  - { name: api-memory-high, service: api, provider: driver, query: memoryBytes, max: 1Mi, interval: 1s }
runbooks:
  quick:
    description: a health round
    steps:
      - { health: all }
`;

beforeAll(async () => {
  hooks = await startHttpReceiver();
  project = await makeProject(extra(hooks.url));
  // The app logs every request but health probes (the logs page follows them).
  writeFileSync(
    join(project.dir, "app", "app.js"),
    APP.replace(
      "const srv = createServer((req, res) => {",
      'const srv = createServer((req, res) => {\n  if (req.url !== "/health") console.log("request " + req.url);',
    ),
  );
  const v1 = project.cli(["deploy", "development", "--version", "v1"]);
  if (v1.code !== 0) throw new Error(`deploy v1: ${v1.stderr}`);
  // Revision 2 changes a plain value and adds a secret (the diff shows its reference only).
  const spec = readFileSync(project.file, "utf8").replace(
    "MODE: blue }",
    'MODE: green, API_TOKEN: "${API_TOKEN}" }',
  );
  writeFileSync(project.file, spec);
  const v2 = project.cli(["deploy", "development", "--version", "v2"], { env: { API_TOKEN: SECRET } });
  if (v2.code !== 0) throw new Error(`deploy v2: ${v2.stderr}`);
  addUsers(project, [
    ["vera", "viewer"],
    ["olga", "operator"],
    ["dora", "deployer"],
  ]);
  url = daemonInfo(project.home).url;
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await project?.cleanup();
  await hooks?.close();
});

const contexts: BrowserContext[] = [];
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
});
/** A logged-in page of `name` (each user their own context: their own session cookie). */
async function as(name: string, width = 1100): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width, height: 900 } });
  contexts.push(ctx);
  const page = await ctx.newPage();
  await logIn(page, url, name, `${name}-secret-password`);
  await page.getByRole("link", { name: "e2e / development" }).waitFor();
  return page;
}
const open = (page: Page, sub = "") => page.goto(`${url}/#/env/e2e/development${sub}`);

describe.skipIf(!hasChromium)("the dashboard's pages in Chromium", () => {
  it("an environment card shows its open alerts", async () => {
    const page = await as("vera");
    // The rule (memory above 1 MiB) fires at its first evaluation, a second after the deploy.
    await expect
      .poll(
        async () => {
          await page.reload();
          const alerts = page.locator(".card-alerts");
          await alerts.waitFor({ timeout: 10_000 });
          return alerts.textContent();
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toMatch(/api-memory-high firing \(warning\)/);
    await shot(page, "dashboard-environments.png");
  });

  it("an operator silences an alert with a duration and a reason, then removes the silence; a viewer cannot", async () => {
    const viewer = await as("vera");
    await open(viewer, "/alerts");
    await viewer.getByRole("region", { name: "Alert rules" }).getByText("api-memory-high").waitFor();
    expect(await viewer.getByRole("form", { name: "Silence an alert" }).count()).toBe(0);

    const page = await as("olga");
    await open(page, "/alerts");
    const form = page.getByRole("form", { name: "Silence an alert" });
    await form.getByLabel("Alert rule").selectOption("api-memory-high");
    await form.getByLabel("Duration").fill("30m");
    // By keyboard: type the reason, Enter submits.
    await form.getByLabel("Reason").focus();
    await page.keyboard.type("known leak, fix in review");
    await page.keyboard.press("Enter");
    await expect
      .poll(() => form.getByRole("status").textContent())
      .toMatch(/silenced rule=api-memory-high until/);
    const silences = page.getByRole("region", { name: "Silences" });
    await expect
      .poll(() => silences.textContent())
      .toMatch(/rule=api-memory-high active .* olga: known leak/);
    // From a shell that has the spec's secret: the daemon keeps the latest operation's values, and
    // the dashboard's actions below run with them.
    const cli = project
      .cli(["silence", "list", "development", "--json"], { env: { API_TOKEN: SECRET } })
      .json<{
        result: { silences: { author: string; comment: string; state: string }[] };
      }>();
    expect(cli.result.silences).toMatchObject([
      { author: "olga", comment: "known leak, fix in review", state: "active" },
    ]);
    await shot(page, "dashboard-alerts.png");
    await silences.getByRole("button", { name: "Remove silence rule=api-memory-high" }).click();
    await expect.poll(() => silences.textContent()).toContain("No silences.");
    // The viewer sees the silences but no Remove button.
    await viewer.reload();
    expect(await viewer.getByRole("button", { name: /Remove silence/ }).count()).toBe(0);
  }, 90_000);

  it("backups: an operator takes one and verifies it; a viewer sees the state only", async () => {
    const page = await as("olga");
    await open(page, "/backups");
    await page.getByLabel("Service").selectOption("files");
    await page.getByRole("button", { name: "Back up now" }).click();
    await expect
      .poll(() => page.getByRole("status").first().textContent(), { timeout: 30_000 })
      .toMatch(/backup done: files-\S+ ok/);
    const row = page.getByRole("region", { name: "Backups" }).getByRole("row", { name: /files-/ });
    await expect.poll(() => row.textContent()).toContain("not verified yet");
    await row.getByRole("button", { name: /^Verify / }).click();
    await expect.poll(() => row.textContent(), { timeout: 30_000 }).toMatch(/verified \d/);
    await shot(page, "dashboard-backups.png");

    const viewer = await as("vera");
    await open(viewer, "/backups");
    await viewer.getByRole("row", { name: /files-.*verified/ }).waitFor();
    expect(await viewer.getByRole("button", { name: /Verify|Back up now/ }).count()).toBe(0);
  }, 120_000);

  it("actions by role: a viewer has none; an operator restarts one service but has no scale or runbook", async () => {
    const viewer = await as("vera");
    await open(viewer);
    await viewer.getByRole("region", { name: "History" }).getByRole("cell", { name: "v1" }).waitFor();
    expect(await viewer.getByRole("region", { name: "Actions" }).count()).toBe(0);

    const op = await as("olga");
    await open(op);
    const actions = op.getByRole("region", { name: "Actions" });
    await actions.getByRole("button", { name: "Restart" }).waitFor();
    expect(await actions.getByRole("button", { name: "Scale" }).count()).toBe(0);
    expect(await actions.getByRole("button", { name: "Run runbook" }).count()).toBe(0);
    await actions.getByLabel("Restart service").selectOption("api");
    await actions.getByRole("button", { name: "Restart" }).click();
    await expect
      .poll(() => actions.getByRole("status").textContent(), { timeout: 45_000 })
      .toMatch(/^restart done: revision \d+ \(v2, deployed\)$/);
    expect((await project.get("api")).body).toBe("v2");
  }, 120_000);

  it("actions by role: a deployer runs a runbook and scales a service", async () => {
    const page = await as("dora");
    await open(page);
    const acts = page.getByRole("region", { name: "Actions" });
    await acts.getByLabel("Run a runbook").selectOption("quick");
    await acts.getByRole("button", { name: "Run runbook" }).click();
    await expect
      .poll(() => acts.getByRole("status").textContent(), { timeout: 45_000 })
      .toBe("runbook quick passed");
    await acts.getByLabel("Scale service").selectOption("worker");
    await acts.getByLabel("Instances").fill("2");
    await acts.getByRole("button", { name: "Scale" }).click();
    await expect
      .poll(() => acts.getByRole("status").textContent(), { timeout: 45_000 })
      .toBe("scale done: worker from 1 to 2 instances");
    const status = project.cli(["status", "development", "--json"]).json<{
      result: { services: { name: string; instances: unknown[] }[] };
    }>();
    expect(status.result.services.find((s) => s.name === "worker")?.instances).toHaveLength(2);
  }, 120_000);

  it("a protected environment's actions wait for its name to be typed", async () => {
    const page = await as("dora");
    // The daemon's list, with this environment marked protected (the confirmation is the page's).
    await page.route("**/v1/environments", async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { environments: { protect: boolean }[] };
      for (const e of body.environments) e.protect = true;
      await route.fulfill({ response: res, json: body });
    });
    await open(page);
    const acts = page.getByRole("region", { name: "Actions" });
    await acts.getByLabel("Type “development” to confirm").waitFor();
    for (const name of ["Roll back", "Restart", "Run runbook"])
      expect(await acts.getByRole("button", { name }).isDisabled()).toBe(true);
    await acts.getByLabel("Type “development” to confirm").fill("development");
    for (const name of ["Roll back", "Restart", "Run runbook"])
      expect(await acts.getByRole("button", { name }).isDisabled()).toBe(false);
  });

  it("history: the analysis measurements of a past deploy as charts, and the spec diff with secrets as references", async () => {
    const page = await as("vera");
    await open(page);
    await page.getByRole("button", { name: "steps of revision 2" }).click();
    const chart = page.locator(".steps-of").getByRole("img", { name: /^api-memory: \d+ measurements/ });
    await chart.waitFor();
    expect(await chart.getAttribute("aria-label")).toMatch(/max 1024 MiB\), 0 failed/);
    expect(await chart.locator("circle").count()).toBeGreaterThan(1);

    const diff = page.getByRole("region", { name: "Spec diff" });
    await diff.getByLabel("From revision").selectOption("1");
    await diff.getByLabel("To revision").selectOption("2");
    await diff.getByRole("button", { name: "Compare" }).click();
    const mode = diff.getByRole("row", { name: /services\.files\.env\.MODE/ });
    await expect.poll(() => mode.textContent()).toMatch(/blue.*green/);
    const token = diff.getByRole("row", { name: /services\.files\.env\.API_TOKEN/ });
    expect(await token.textContent()).toContain("(absent)${API_TOKEN}");
    expect(await page.content()).not.toContain(SECRET);
    await shot(page, "dashboard-history.png");
  });

  it("logs: follows the running instances live, filters by instance, reads a revision's; fits a phone", async () => {
    const page = await as("vera", 390);
    await open(page, "/logs");
    await page.getByLabel("Service").selectOption("api");
    await page.getByRole("button", { name: "Show logs" }).click();
    const log = page.getByRole("log", { name: "Log lines" });
    await expect.poll(() => page.getByRole("status").textContent()).toBe("following");
    const path = `/from-the-test-${Date.now()}`;
    await expect
      .poll(
        async () => {
          await project.get("api", path);
          return log.textContent();
        },
        { timeout: 20_000, interval: 500 },
      )
      .toContain(`request ${path}`);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, "dashboard-logs-phone.png");
    await page.getByRole("button", { name: "Stop" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toBe("stopped");

    const instance = (await page.getByLabel("Instance").locator("option").nth(1).textContent()) ?? "";
    await page.getByLabel("Instance").selectOption(instance);
    // The current revision (newest first): the process target keeps no stopped instance of older ones.
    const current = (await page.getByLabel("Revision").locator("option").nth(1).getAttribute("value")) ?? "";
    await page.getByLabel("Revision").selectOption(current);
    expect(await page.getByLabel("Follow").isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Show logs" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toMatch(/^\d+ lines$/);
    const lines = ((await log.textContent()) ?? "").split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.startsWith(`${instance} `))).toBe(true);
  });

  it("a deploy's analysis measurements arrive live as a chart against the threshold", async () => {
    const page = await as("dora");
    await open(page);
    const live = page.getByRole("region", { name: "Live" });
    await live.getByLabel("connected").waitFor();
    const deploy = project.cliAsync(["deploy", "development", "--version", "v3"], {
      env: { API_TOKEN: SECRET },
    });
    await live.getByRole("img", { name: /^api-memory: \d+ measurements/ }).waitFor({ timeout: 60_000 });
    const d = await deploy;
    expect(d.code, d.stderr).toBe(0);
    await expect
      .poll(() => live.getByRole("img", { name: /^api-memory:/ }).getAttribute("aria-label"))
      .toMatch(/max 1024 MiB\), 0 failed/);
    await shot(page, "dashboard-live-analysis.png");
  }, 120_000);
});
