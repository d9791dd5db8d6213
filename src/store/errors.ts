import { OperationFailed } from "../errors.js";

/**
 * The store could not be opened or used (unreadable file, newer schema, unreachable
 * database). Extends OperationFailed so the CLI maps it to exit 1 without a special case.
 */
export class StoreError extends OperationFailed {
  override name = "StoreError";
}

/** postgres://user:secret@host/db → postgres://user:***@host/db (never print credentials). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    for (const k of [...u.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(k)) u.searchParams.set(k, "***");
    }
    return u.toString();
  } catch {
    return "<unparseable database URL>";
  }
}
