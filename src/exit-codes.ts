import { Interrupted, LockHeld, Refused, SpecError, UsageError } from "./errors.js";

/** Error → exit code (DESIGN §6) and → HTTP status, in one place each. */
export const EXIT = { ok: 0, failed: 1, usage: 2, locked: 3, refused: 4, interrupted: 130 } as const;

export function exitCodeFor(errorName: string): number {
  switch (errorName) {
    case "SpecError":
    case "UsageError":
      return EXIT.usage;
    case "LockHeld":
      return EXIT.locked;
    case "Refused":
      return EXIT.refused;
    case "Interrupted":
      return EXIT.interrupted;
    default:
      return EXIT.failed;
  }
}

/** By class, so a subclass (BackupNotFound is a UsageError) keeps its family's code. */
export function exitCodeOf(e: unknown): number {
  const carried = (e as { exitCode?: unknown } | null)?.exitCode;
  if (typeof carried === "number") return carried; // an error relayed from the daemon
  if (e instanceof SpecError || e instanceof UsageError) return EXIT.usage;
  if (e instanceof LockHeld) return EXIT.locked;
  if (e instanceof Refused) return EXIT.refused;
  if (e instanceof Interrupted) return EXIT.interrupted;
  return e instanceof Error ? exitCodeFor(e.name) : EXIT.failed;
}
