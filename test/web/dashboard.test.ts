/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core) against a real
 * daemon started by the CLI, with a real process-target deployment (two releases of the e2e app).
 * Screenshots of the main pages go to docs/images/ (docs/dashboard.md shows them).
 */
import { type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { daemonInfo, makeProject, type Project } from "../e2e/harness.js";
import { addUsers, hasChromium, launchChromium, logIn as logInAt, shot } from "./browser.js";

let project: Project;
let browser: Browser;
let url: string;

beforeAll(async () => {
  project = await makeProject();
  for (const v of ["v1", "v2"]) {
    const d = project.cli(["deploy", "development", "--version", v]);
    if (d.code !== 0) throw new Error(`deploy ${v}: ${d.stderr}`);
  }
  addUsers(project, [
    ["vera", "viewer"],
    ["dora", "deployer"],
  ]);
  url = daemonInfo(project.home).url;
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await project?.cleanup();
});

const logIn = (page: Page, name: string, password: string) => logInAt(page, url, name, password);

describe.skipIf(!hasChromium)("the dashboard in Chromium", () => {
  it("serves the built page with its content types, without a session", async () => {
    const page = await fetch(url + "/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
    expect(script).toBeDefined();
    const js = await fetch(url + script);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect((await fetch(url + "/v1/environments")).status).toBe(401);
  });

  it("refuses a wrong password", async () => {
    const page = await browser.newPage();
    // By keyboard only: type in the fields, Enter submits.
    await page.goto(url);
    await page.getByLabel("User name").focus();
    await page.keyboard.type("dora");
    await page.keyboard.press("Tab");
    await page.keyboard.type("not-her-password");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("wrong user name or password");
    await shot(page, "dashboard-login.png", false);
    await page.close();
  });

  it("a viewer sees the environment and its history, has no rollback control, and a forged POST is 403", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await ctx.newPage();
    await logIn(page, "vera", "vera-secret-password");
    const card = page.getByRole("link", { name: "e2e / development" });
    await card.waitFor();
    await expect.poll(() => page.locator(".card").first().textContent()).toMatch(/revision 2 v2.*healthy/s);
    // dashboard-environments.png (a card with its open alerts) is taken by dashboard-pages.test.ts.
    await card.click();
    await page.getByRole("region", { name: "History" }).getByRole("cell", { name: "v1" }).waitFor();
    expect(await page.getByRole("button", { name: "Roll back" }).count()).toBe(0);
    expect(await page.getByRole("region", { name: "Actions" }).count()).toBe(0);
    const forged = await page.evaluate(async () => {
      const me = (await (await fetch("/v1/session")).json()) as { csrfToken: string };
      const spec = { project: "e2e", env: "development", target: { kind: "process" } };
      const res = await fetch("/v1/ops/rollback", {
        method: "POST",
        headers: { "content-type": "application/json", "x-slipway-csrf": me.csrfToken },
        body: JSON.stringify({
          resolution: { spec, snapshot: spec, secrets: {}, vars: {}, light: true },
          args: { revision: 1 },
        }),
      });
      return { status: res.status, body: await res.text() };
    });
    expect(forged.status).toBe(403);
    expect(forged.body).toContain("vera is viewer on e2e/development; to rollback needs operator or above");
    expect((await project.get("web")).body).toBe("v2");
    await ctx.close();
  });

  it("a deployer rolls back to revision 1, watches the steps arrive live, and the service answers v1", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await ctx.newPage();
    await logIn(page, "dora", "dora-secret-password");
    await page.getByRole("link", { name: "e2e / development" }).click();
    const live = page.getByRole("region", { name: "Live" });
    await live.getByLabel("connected").waitFor();
    await page.getByLabel("Roll back to revision").selectOption("1");
    await page.getByRole("button", { name: "Roll back" }).click();
    // The live panel draws only what GET /v1/events streams (the action's own NDJSON is not shown there).
    await live.locator(".step").first().waitFor({ timeout: 30_000 });
    await expect
      .poll(() => page.getByRole("status").textContent(), { timeout: 45_000 })
      .toMatch(/rollback done: revision 3 \(v1, deployed\)/);
    expect(await live.locator(".step.ok").count()).toBeGreaterThan(0);
    expect(await live.locator(".step.failed").count()).toBe(0);
    expect((await project.get("web")).body).toBe("v1");
    await page
      .getByRole("region", { name: "History" })
      .getByRole("cell", { name: "v1 (rollback of 1)" })
      .waitFor();
    await expect
      .poll(() => page.getByRole("row", { name: /v1 \(rollback of 1\)/ }).textContent())
      .toContain("deployed");
    await shot(page, "dashboard-rollback.png");
    await page.getByRole("button", { name: "steps of revision 3" }).click();
    await expect.poll(() => page.locator(".steps-of .step").count()).toBeGreaterThan(0);
    await page.setViewportSize({ width: 390, height: 844 });
    // Usable on a phone: nothing wider than the screen (no sideways scrolling).
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, "dashboard-phone.png");
    await ctx.close();
  });
});
