import { describe, expect, it } from "vitest";
import type { Slot } from "./contract.js";
import { SlotBalancer } from "./balancer.js";
import { FrameTracker } from "./websocket.js";

const t = (name: string, slot: Slot) => ({ name, slot, ejectedUntil: 0 });

describe("SlotBalancer", () => {
  it("splits exactly by weight over every 100 picks and round-robins inside a slot", () => {
    const b = new SlotBalancer<ReturnType<typeof t>>();
    const ts = [t("s1", "stable"), t("s2", "stable"), t("c1", "candidate")];
    b.update(ts, 10);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const p = b.pick(0)!;
      counts[p.name] = (counts[p.name] ?? 0) + 1;
    }
    expect(counts).toEqual({ s1: 45, s2: 45, c1: 10 });
  });

  it("skips ejected and excluded targets, and never falls back to a slot of weight 0", () => {
    const b = new SlotBalancer<ReturnType<typeof t>>();
    const s = t("s", "stable");
    const c = t("c", "candidate");
    b.update([s, c], 0);
    s.ejectedUntil = 100;
    expect(b.pick(50)).toBeUndefined();
    expect(b.pick(150)).toBe(s);
    expect(b.pick(150, "candidate")).toBe(s);
    b.update([s, c], 50);
    expect(b.pick(150, "candidate", new Set([c]))).toBe(s);
  });
});

describe("FrameTracker", () => {
  it("finds frame boundaries across chunk splits", () => {
    // A masked 300-byte frame (16-bit length) followed by a 2-byte unmasked frame.
    const f1 = Buffer.concat([Buffer.from([0x82, 0x80 | 126, 0x01, 0x2c, 1, 2, 3, 4]), Buffer.alloc(300)]);
    const f2 = Buffer.from([0x81, 0x00]);
    const all = Buffer.concat([f1, f2]);
    const tr = new FrameTracker();
    expect(tr.consume(all.subarray(0, 3), 0, true)).toBe(0); // already at a boundary
    expect(tr.consume(all.subarray(0, 3), 0, false)).toBe(3);
    expect(tr.atBoundary).toBe(false);
    const rest = all.subarray(3);
    const cut = tr.consume(rest, 0, true);
    expect(cut).toBe(f1.length - 3);
    expect(tr.atBoundary).toBe(true);
    expect(tr.consume(rest, cut, false)).toBe(rest.length);
    expect(tr.atBoundary).toBe(true);
  });
});
