/**
 * What the dashboard's browser tests share: Debian's Chromium launched by playwright-core, the
 * log-in form filled as a person would, and the docs' screenshots (refreshed only on request).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { ROOT, type Project } from "../e2e/harness.js";

export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);
const IMAGES = join(ROOT, "docs", "images");

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** Users added through the CLI, each with the password `<name>-secret-password`. */
export function addUsers(project: Project, users: [name: string, role: string][]): void {
  for (const [name, role] of users) {
    const r = project.cli(["users", "add", name, "--role", role, "--password-stdin"], {
      input: `${name}-secret-password\n`,
    });
    if (r.code !== 0) throw new Error(`users add ${name}: ${r.stderr}`);
  }
}

export async function logIn(page: Page, url: string, name: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

/** The docs' screenshots are refreshed only on request (SLIPWAY_SCREENSHOTS=1): a test run leaves the tree as it was. */
export const shot = (
  page: { screenshot(o: { path: string; fullPage?: boolean }): Promise<unknown> },
  name: string,
  full = true,
) =>
  process.env.SLIPWAY_SCREENSHOTS
    ? page.screenshot({ path: join(IMAGES, name), ...(full ? { fullPage: true } : {}) })
    : Promise.resolve();
