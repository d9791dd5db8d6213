/**
 * The few named errors of Slipway. Each maps to one exit code (cli/exit-codes.ts) and one
 * HTTP status (server/errors.ts). Anything else reaching the boundary is a bug.
 */
export class SlipwayError extends Error {
  override name = "SlipwayError";
  /** Extra machine-readable detail for --json output. */
  details?: Record<string, unknown>;
}

export interface SpecIssue {
  file?: string;
  line?: number;
  column?: number;
  /** Dotted key path, e.g. services.web.health.interval */
  path: string;
  message: string;
  /** The value was made of these variables, not set or empty (`slipway validate` lets it pass). */
  unset?: string[];
}

/** The spec (or a command's arguments) is wrong. Exit 2. */
export class SpecError extends SlipwayError {
  override name = "SpecError";
  constructor(public readonly issues: SpecIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.details = { issues };
  }
}

export function formatIssue(i: SpecIssue): string {
  const where = i.file ? `${i.file}${i.line ? `:${i.line}:${i.column ?? 1}` : ""}: ` : "";
  return `${where}${i.path ? `${i.path}: ` : ""}${i.message}`;
}

/** Bad command-line usage. Exit 2. */
export class UsageError extends SlipwayError {
  override name = "UsageError";
}

/** A pre-flight check failed. Exit 1. */
export class CheckFailed extends SlipwayError {
  override name = "CheckFailed";
}

/** The operation failed (deploy failed and was rolled back, etc). Exit 1. */
export class OperationFailed extends SlipwayError {
  override name = "OperationFailed";
}

/** Another operation holds the environment lock. Exit 3. */
export class LockHeld extends SlipwayError {
  override name = "LockHeld";
  constructor(
    public readonly env: string,
    public readonly holder: string,
    public readonly since: string,
    public readonly operation: string,
  ) {
    super(
      `environment "${env}" is locked by ${holder} (${operation}) since ${since}; ` +
        `if that operation is gone, run: slipway lock ${env} --release`,
    );
    this.details = { env, holder, since, operation };
  }
}

/** A protection rule refused the operation (production without --yes, wrong context). Exit 4. */
export class Refused extends SlipwayError {
  override name = "Refused";
}

/** A driver could not do what was asked. Exit 1. */
export class DriverError extends SlipwayError {
  override name = "DriverError";
  constructor(
    public readonly driver: string,
    message: string,
  ) {
    super(`${driver}: ${message}`);
  }
}

/** The operation was interrupted (SIGINT). Exit 130. */
export class Interrupted extends SlipwayError {
  override name = "Interrupted";
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
