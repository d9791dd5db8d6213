/**
 * Target selection for one route: deterministic weighted split between the stable and the
 * candidate slot (smooth weighted round-robin, as nginx does it: over any 100 consecutive
 * picks the split is exact), round-robin inside a slot, passive health (ejection with a
 * growing cooldown) and stickiness by slot.
 */
import type { Slot } from "./contract.js";

export interface Pickable {
  readonly slot: Slot;
  /** Epoch ms until which the target is out of rotation; 0 when healthy. */
  ejectedUntil: number;
}

export class SlotBalancer<T extends Pickable> {
  private stable: T[] = [];
  private candidate: T[] = [];
  private stableWeight = 100;
  private candidateWeight = 0;
  // Smooth weighted round-robin state.
  private curStable = 0;
  private curCandidate = 0;
  private rrStable = 0;
  private rrCandidate = 0;

  update(targets: T[], candidateWeight: number): void {
    this.stable = targets.filter((t) => t.slot === "stable");
    this.candidate = targets.filter((t) => t.slot === "candidate");
    const w = Math.max(0, Math.min(100, candidateWeight));
    if (w !== this.candidateWeight) {
      this.curStable = 0;
      this.curCandidate = 0;
    }
    this.candidateWeight = w;
    this.stableWeight = 100 - w;
  }

  /** Slots that may receive traffic at all: a slot with weight 0 never does. */
  eligible(slot: Slot): boolean {
    return slot === "stable" ? this.stableWeight > 0 : this.candidateWeight > 0;
  }

  /**
   * Pick a target. `preferred` is the slot from a sticky cookie; `exclude` holds targets
   * already tried for this request. Returns undefined when no healthy target is eligible.
   */
  pick(now: number, preferred?: Slot, exclude?: ReadonlySet<T>): T | undefined {
    let first: Slot;
    if (preferred && this.eligible(preferred)) first = preferred;
    else first = this.nextSlot();
    const t = this.pickIn(first, now, exclude);
    if (t) return t;
    const other: Slot = first === "stable" ? "candidate" : "stable";
    return this.eligible(other) ? this.pickIn(other, now, exclude) : undefined;
  }

  private nextSlot(): Slot {
    if (this.candidateWeight === 0) return "stable";
    if (this.stableWeight === 0) return "candidate";
    this.curStable += this.stableWeight;
    this.curCandidate += this.candidateWeight;
    if (this.curCandidate > this.curStable) {
      this.curCandidate -= 100;
      return "candidate";
    }
    this.curStable -= 100;
    return "stable";
  }

  private pickIn(slot: Slot, now: number, exclude?: ReadonlySet<T>): T | undefined {
    const list = slot === "stable" ? this.stable : this.candidate;
    const n = list.length;
    if (n === 0) return undefined;
    let start: number;
    if (slot === "stable") start = this.rrStable++ % n;
    else start = this.rrCandidate++ % n;
    if (this.rrStable > 1e9) this.rrStable = 0;
    if (this.rrCandidate > 1e9) this.rrCandidate = 0;
    for (let k = 0; k < n; k++) {
      const t = list[(start + k) % n];
      if (t.ejectedUntil > now) continue;
      if (exclude?.has(t)) continue;
      return t;
    }
    return undefined;
  }
}
