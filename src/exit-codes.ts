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

export function httpStatusFor(errorName: string): number {
  switch (errorName) {
    case "SpecError":
    case "UsageError":
      return 400;
    case "LockHeld":
      return 409;
    case "Refused":
      return 403;
    case "Interrupted":
      return 499;
    case "InternalError":
      return 500;
    default:
      return 422;
  }
}
