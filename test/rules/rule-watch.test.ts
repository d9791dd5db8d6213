/**
 * The daemon's rule watcher across a restart, on a real runtime (SQLite store in a temp home) and
 * a real HTTP endpoint read by `scrape` rules: a firing rule is neither raised again by the next
 * daemon nor forgotten — it resolves there when the value comes back.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EngineEvent } from "../../src/engine/events.js";
import { createRuntime } from "../../src/factory.js";
import { parseSpecText } from "../../src/spec/load.js";
import { resolveSpec } from "../../src/spec/resolve.js";
import { freePort } from "../support/ports.js";

let server: Server;
let url: string;
let lag = 50;
let dir: string;

beforeAll(async () => {
  const port = await freePort();
  server = createServer((_q, s) => s.end(`queue_lag ${lag}\nqueue_depth 7\n`));
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  url = `http://127.0.0.1:${port}/metrics`;
  dir = mkdtempSync(join(tmpdir(), "slipway-rule-watch-"));
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

function spec(rules: string) {
  const text = `project: shop
environments: { prod: { target: process } }
services: { app: { run: sleep 100, path: . } }
rules:
${rules}`;
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, text);
  return resolveSpec(parseSpecText(text, file), { env: "prod", version: "v1" }).spec;
}

const RULES = `  - { name: lag, provider: scrape, url: "URL", query: queue_lag, max: 30, severity: critical, labels: { team: ops } }
  - { name: depth, provider: scrape, url: "URL", query: queue_depth, max: 100, interval: 1h }
`;

async function runtime(events: Extract<EngineEvent, { type: "alert" }>[]) {
  const engine = await createRuntime({ home: join(dir, "home") });
  engine.subscribe((_p, _e, ev) => {
    if (ev.type === "alert" && ev.kind.startsWith("rule.")) events.push(ev);
  });
  return engine;
}

describe("rule watcher", () => {
  it("keeps firing rules across a daemon restart: no second alert, and the resolve still comes", async () => {
    const s = spec(RULES.replaceAll("URL", url));
    const events: Extract<EngineEvent, { type: "alert" }>[] = [];
    const first = await runtime(events);
    first.rules.sync([s]);
    await first.rules.evaluateNow("shop", "prod");
    let states = await first.rules.states("shop", "prod");
    expect(states.rules.map((r) => [r.name, r.state, r.value])).toEqual([
      ["lag", "firing", 50],
      ["depth", "inactive", 7],
    ]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      kind: "rule.firing",
      severity: "critical",
      data: { labels: { rule: "lag", team: "ops" }, stateful: true },
    });
    await first.close();

    // A new daemon on the same store: the state is read back, the firing rule is not raised again.
    const second = await runtime(events);
    second.rules.sync([s]);
    await second.rules.evaluateNow("shop", "prod");
    states = await second.rules.states("shop", "prod");
    expect(states.rules[0]).toMatchObject({ name: "lag", state: "firing" });
    expect(events).toHaveLength(1);
    lag = 3;
    await second.rules.evaluateNow("shop", "prod");
    expect(events.map((e) => e.kind)).toEqual(["rule.firing", "rule.resolved"]);
    expect(events[1].data).toMatchObject({ resolves: "rule.firing", labels: { rule: "lag" } });

    // A rule removed while firing resolves; an environment that goes away stops being evaluated.
    lag = 80;
    await second.rules.evaluateNow("shop", "prod");
    second.rules.sync([spec(RULES.replaceAll("URL", url).split("\n")[1] + "\n")]);
    await new Promise((r) => setTimeout(r, 50));
    expect(events.map((e) => e.kind)).toEqual([
      "rule.firing",
      "rule.resolved",
      "rule.firing",
      "rule.resolved",
    ]);
    expect(events[3].message).toContain("the rule was removed");
    second.rules.sync([]);
    expect((await second.rules.states("shop", "prod")).evaluated).toBe(false);
    await second.close();
  });
});
