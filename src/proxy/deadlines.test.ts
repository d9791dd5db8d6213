import { describe, expect, it } from "vitest";
import { unwatch, watch, type Timed } from "./deadlines.js";

class Item implements Timed {
  deadline = 0;
  timedPrev: Timed | undefined = undefined;
  timedNext: Timed | undefined = undefined;
  expired = 0;
  expire(): void {
    this.expired++;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("response deadlines (one sweep, intrusive list)", () => {
  it("expires only the due items, once each, whatever their place in the list", async () => {
    const [a, b, c, d] = [new Item(), new Item(), new Item(), new Item()];
    watch(a, 10);
    watch(b, 10);
    watch(c, 60_000);
    watch(d, 10);
    unwatch(b); // from the middle
    unwatch(b); // twice is harmless
    watch(a, 10); // watched again: moved, not listed twice
    await sleep(150);
    expect([a.expired, b.expired, c.expired, d.expired]).toEqual([1, 0, 0, 1]);
    // Removed items keep no links: a promoted dead item must not hold later ones alive.
    for (const t of [a, b, d]) expect([t.timedPrev, t.timedNext]).toEqual([undefined, undefined]);
    // c is alone in the list now; it can still be removed and re-added and expire again.
    unwatch(c);
    expect([c.timedPrev, c.timedNext]).toEqual([undefined, undefined]);
    watch(c, 5);
    watch(b, 5);
    await sleep(150);
    expect([b.expired, c.expired]).toEqual([1, 1]);
  });

  it("an item expired during the sweep may re-arm another without losing it", async () => {
    const second = new Item();
    const first = new (class extends Item {
      override expire(): void {
        super.expire();
        watch(second, 5); // a retry re-arming while the sweep walks the list
      }
    })();
    watch(first, 5);
    watch(second, 60_000);
    await sleep(200);
    expect([first.expired, second.expired]).toEqual([1, 1]);
  });
});
