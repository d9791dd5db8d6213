import { failed, passed, type CheckOutcome } from "./types.js";

/** Runs a check body: its return value is the evidence of a pass, its error the evidence of a failure. */
export async function attempt(fn: () => Promise<string>): Promise<CheckOutcome> {
  try {
    return passed(await fn());
  } catch (e) {
    return failed((e as Error).message);
  }
}
