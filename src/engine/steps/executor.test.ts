import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ResolvedSpec } from "../../spec/resolved.js";
import { openStore } from "../../store/open.js";
import type { Store } from "../../store/store.js";
import type { EngineDeps } from "../context.js";
import type { EngineEvent } from "../events.js";
import { StepKinds } from "../plan.js";
import { StepExecutor, stepRedactor } from "./executor.js";
import { STEP_RUNNERS } from "./registry.js";

const spec = { project: "p", env: "dev" } as ResolvedSpec;

describe("StepExecutor", () => {
  let home: string;
  let store: Store;
  beforeEach(async () => {
    home = mkdtempSync(join(tmpdir(), "slipway-exec-"));
    store = await openStore({ home });
    await store.createRevision({
      project: "p",
      env: "dev",
      version: "v1",
      status: "in-progress",
      snapshot: {},
      services: [],
      actor: "t",
      description: "",
      skipChecks: false,
      facts: {},
    });
  });
  afterEach(async () => {
    await store.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("journals pending → ok with a duration, and redacts secret values from the message", async () => {
    const events: EngineEvent[] = [];
    const redact = stepRedactor({
      secrets: new Map([
        ["TOKEN", "s3cr3t-value"],
        ["SHORT", "1"],
      ]),
    });
    const ex = new StepExecutor({ store } as unknown as EngineDeps, spec, 1, (e) => events.push(e), redact);
    const step = { seq: 1, kind: "migrate", service: "api", description: "migrate api up" };
    await ex.pending([step]);
    expect((await store.journal("p", "dev", 1))[0].status).toBe("pending");
    await ex.run(step, async () => "1 row; token s3cr3t-value used");
    const [j] = await store.journal("p", "dev", 1);
    expect(j.status).toBe("ok");
    // A value shorter than 6 characters would rewrite ordinary text ("1 row"): left alone.
    expect(j.message).toBe("1 row; token *** used");
    expect(j.durationMs).toBeGreaterThanOrEqual(0);
    expect(events.map((e) => (e.type === "step" ? e.status : e.type))).toEqual(["running", "ok"]);
  });

  it("journals a failure with its redacted message and rethrows the original error", async () => {
    const events: EngineEvent[] = [];
    const redact = stepRedactor({ secrets: new Map([["PW", "hunter22"]]) });
    const ex = new StepExecutor({ store } as unknown as EngineDeps, spec, 1, (e) => events.push(e), redact);
    const step = { seq: 1, kind: "checks", description: "checks" };
    await ex.pending([step]);
    const boom = new Error("connect postgres://u:hunter22@db failed");
    await expect(ex.run(step, () => Promise.reject(boom))).rejects.toBe(boom);
    const [j] = await store.journal("p", "dev", 1);
    expect(j.status).toBe("failed");
    expect(j.message).not.toContain("hunter22");
    const last = events[events.length - 1];
    expect(last.type === "step" && last.message).not.toContain("hunter22");
  });
});

describe("STEP_RUNNERS", () => {
  it("has a runner for every step kind a plan can hold", () => {
    expect(Object.keys(STEP_RUNNERS).sort()).toEqual([...StepKinds].sort());
  });
});
