/**
 * `confirm`: items a human vouches for ("team notified"). Confirmed up front (`--confirm ITEM`,
 * case-insensitive) or, when the run is interactive, at a prompt. Records who confirmed.
 */
import type { ConfirmCheckSpec } from "../spec/schema-checks.js";
import { failed, passed, type CheckOutcome, type CheckRun } from "./types.js";

const norm = (s: string) => s.trim().toLowerCase().replace(/\s+/g, " ");

export async function confirmCheck(spec: ConfirmCheckSpec, run: CheckRun): Promise<CheckOutcome> {
  const given = new Set((run.ctx.confirmed ?? []).map(norm));
  const prompted = new Set((run.ctx.prompted ?? []).map(norm));
  const items: { item: string; confirmed: boolean; via?: "flag" | "prompt" }[] = [];
  for (const item of spec.items) {
    if (given.has(norm(item))) {
      items.push({ item, confirmed: true, via: prompted.has(norm(item)) ? "prompt" : "flag" });
      continue;
    }
    if (run.ctx.confirm && !run.signal.aborted) {
      const yes = await run.ctx.confirm(item);
      items.push(yes ? { item, confirmed: true, via: "prompt" } : { item, confirmed: false });
      continue;
    }
    items.push({ item, confirmed: false });
  }
  const by = run.ctx.confirmedBy ?? "unknown";
  const missing = items.filter((i) => !i.confirmed).map((i) => i.item);
  const details = { confirmedBy: by, items };
  if (missing.length) {
    const hint = missing.map((m) => `--confirm ${JSON.stringify(m)}`).join(" ");
    return failed(
      `not confirmed: ${missing.map((m) => `"${m}"`).join(", ")} (confirm with ${hint})`,
      details,
    );
  }
  return passed(`confirmed by ${by}: ${items.map((i) => `"${i.item}"`).join(", ")}`, details);
}
