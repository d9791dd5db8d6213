/** The hub's persistence rules: what may be stored, and how a restarted daemon fills it back in. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadSpecFile } from "../spec/load.js";
import { resolveSpec } from "../spec/resolve.js";
import { openStore } from "../store/open.js";
import { NotifierHub, persistable } from "./hub.js";

const SPEC = `project: shop
environments:
  production: { target: process }
services:
  api: { run: node app.js, port: 3000 }
alerts:
  channels:
    hooks: { type: webhook, url: "\${HOOK_URL}", secret: "\${HOOK_SECRET}" }
    slack: { type: slack, url: "https://hooks.slack.example/T000/B000/literal-token-xyz" }
  routes:
    - { match: { severity: critical }, receivers: [hooks, slack] }
`;

const SECRET = "s3cr3t-value-that-must-not-be-stored";
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function resolution() {
  dir = mkdtempSync(join(tmpdir(), "slipway-hub-"));
  writeFileSync(join(dir, "slipway.yaml"), SPEC);
  return resolveSpec(loadSpecFile(join(dir, "slipway.yaml")), {
    env: "production",
    version: "v1",
    vars: { HOOK_URL: "http://127.0.0.1:9/hook", HOOK_SECRET: SECRET },
  });
}

describe("NotifierHub persistence", () => {
  it("stores templates, never values; a channel with a literal credential is held back", () => {
    const { text, held } = persistable(resolution());
    expect(text).toContain("${HOOK_SECRET}");
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain("literal-token-xyz");
    expect(held).toEqual(["slack"]);
  });

  it("a restarted hub re-hydrates from its variables; channels it cannot fill wait", async () => {
    const r = resolution();
    const home = join(dir, "home");
    const store = await openStore({ home });
    const first = new NotifierHub({ home, store });
    await first.start();
    await first.configure(r);
    await first.close();
    // The configuration is in the store (no file of its own), as templates.
    expect(existsSync(join(home, "notify"))).toBe(false);
    const [row] = await store.outbox.all<{ alerts: string }>("SELECT alerts FROM outboxes");
    expect(row.alerts).toContain("${HOOK_SECRET}");
    expect(readFileSync(join(home, "slipway.db")).includes(SECRET)).toBe(false);

    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (m: string) => void warnings.push(m) };
    // The daemon's environment lacks HOOK_SECRET: hooks waits, slack (literal) waits.
    const second = new NotifierHub({ home, store, logger, vars: { HOOK_URL: "http://127.0.0.1:9/hook" } });
    await second.start();
    await expect(second.test("shop", "production")).rejects.toThrow(/no alert channels/);
    expect(warnings.join("\n")).toMatch(/"hooks" of shop\/production waits .*HOOK_SECRET not set/);
    expect(warnings.join("\n")).toMatch(/"slack" of shop\/production has a secret written in slipway.yaml/);
    await second.close();
    await store.close();
  });
});
