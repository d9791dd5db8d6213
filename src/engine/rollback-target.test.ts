/**
 * Which revision a rollback returns to, over a history longer than the page read first: the
 * target is the same as with every revision read, and the revisions newer than it are all there
 * (the data plan needs them). A real SQLite store.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../store/open.js";
import type { Revision, Store } from "../store/store.js";
import { rollbackTarget, targetAndNewer } from "./rollback.js";

const dir = mkdtempSync(join(tmpdir(), "slipway-rbtarget-"));
let store: Store;
let current: Revision | undefined;
// 120 revisions: labels v1..v120, except revision 110 labelled "5" (a label that looks like a
// number) and a failed run at the top.
beforeAll(async () => {
  store = await openStore({ home: dir });
  for (let i = 1; i <= 121; i++)
    await store.createRevision({
      project: "p",
      env: "e",
      version: i === 110 ? "5" : `v${i}`,
      status: i === 121 ? "failed" : i === 120 ? "deployed" : "superseded",
      snapshot: { project: "p", env: "e", services: {} },
      services: [],
      actor: "test",
      skipChecks: false,
      description: `revision ${i}`,
      facts: {},
    });
  current = await store.currentRevision("p", "e");
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const find = async (asked: { ref?: string; label?: string; revision?: number }) => {
  const got = await targetAndNewer(store, "e", "p", current, asked);
  const every = await store.listRevisions("p", "e");
  expect(got.target.number).toBe(rollbackTarget("e", every, current, asked).number);
  // a newest-first prefix of the history that reaches the target: every newer revision is there
  expect(got.revs.map((r) => r.number)).toEqual(every.slice(0, got.revs.length).map((r) => r.number));
  expect(got.revs.at(-1)!.number).toBeLessThanOrEqual(got.target.number);
  return got;
};

describe("rollback target over a long history", () => {
  it("reads one page for a recent target", async () => {
    const d = await find({});
    expect(d.target.number).toBe(119);
    expect(d.revs.length).toBe(50);
    expect((await find({ ref: "v100" })).target.number).toBe(100);
  });

  it("reads the whole history for an old label or number", async () => {
    const old = await find({ ref: "v3" });
    expect([old.target.number, old.revs.length]).toEqual([3, 121]);
    expect((await find({ revision: 7 })).target.number).toBe(7);
    // "5" is an existing revision number: revision 5, not the label on revision 110 …
    expect((await find({ ref: "5" })).target.number).toBe(5);
    // … unless --label says it is a label.
    expect((await find({ label: "5" })).target.number).toBe(110);
  });

  it("lists every label when none matches", async () => {
    const e = await targetAndNewer(store, "e", "p", current, { ref: "v999" }).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/no revision of e has the label "v999"/);
    const candidates = (e as { details: { candidates: unknown[] } }).details.candidates;
    expect(candidates.length).toBe(120);
  });
});
