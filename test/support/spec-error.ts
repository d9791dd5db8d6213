import { SpecError } from "../../src/errors.js";

/** The SpecError `fn` throws (any other error is rethrown; no error fails the test). */
export function specError(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  throw new Error("expected a SpecError");
}
