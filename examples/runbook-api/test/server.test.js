// `npm test` of the stand-in API (node --test, no dependencies): the runbook's endpoints answer.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createApp, endpoint } from "../src/server.js";

async function withApp(fn) {
  const server = createApp().listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  try {
    await fn(`http://127.0.0.1:${server.address().port}`);
  } finally {
    server.close();
  }
}

test("endpoint() reads host and port of database URLs", () => {
  assert.deepEqual(endpoint("postgres://u:pw@db:5433/app", 5432), { host: "db", port: 5433, password: "pw" });
  assert.equal(endpoint("redis://localhost", 6379).port, 6379);
});

test("/api/v1/metrics and /api/v1/status answer JSON", async () => {
  await withApp(async (base) => {
    const m = await (await fetch(`${base}/api/v1/metrics`)).json();
    assert.equal(typeof m.host.memoryUsedPercent, "number");
    const s = await fetch(`${base}/api/v1/status`);
    assert.equal(s.status, 200);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });
});
