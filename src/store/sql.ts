/**
 * The store's SQL handle for the alert outbox (tables outboxes and outbox_*, migration 0004).
 *
 * Why a handle and not one contract method per query: the notifier's grouping and delivery are
 * about forty small statements inside transactions (read the due groups, close alerts, insert a
 * notification and its deliveries, claim rows). Written once against this handle in notify/,
 * they run unchanged on SQLite and PostgreSQL, and the conformance suite runs the notifier
 * itself against both. The contract is still the one place of durable state: the tables are
 * the store's, created and versioned by its one migrations runner.
 *
 * Statements use `?` placeholders (the PostgreSQL store numbers them) and SQL both dialects
 * speak (ON CONFLICT … DO NOTHING, RETURNING id, LIMIT). Integer columns come back as numbers on
 * both (PostgreSQL's bigint included).
 */
export type SqlValue = string | number | null;
export type SqlRow = Record<string, unknown>;

export interface Sql {
  /** The rows a statement returns (none for a statement without RETURNING). */
  all<T = SqlRow>(sql: string, params?: SqlValue[]): Promise<T[]>;
  /** Runs a statement; how many rows it changed. */
  run(sql: string, params?: SqlValue[]): Promise<number>;
  /**
   * One transaction: every statement `fn` runs through `t` commits together or not at all.
   * SQLite: BEGIN IMMEDIATE, with the store's other work waiting meanwhile; PostgreSQL: one
   * connection of the pool, retried on a deadlock. Inside a transaction, `tx` nests.
   */
  tx<T>(fn: (t: Sql) => Promise<T>): Promise<T>;
}

/** `?` → `$1, $2, …` (the statements hold no `?` inside string literals). */
export function numberPlaceholders(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

/**
 * An error that means the database could not be reached (connection refused or lost, server
 * shutting down), as opposed to a wrong statement: the notifier spools alerts on these.
 */
export function isUnreachable(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | undefined;
  const code = err?.code ?? "";
  if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EPIPE"].includes(code))
    return true;
  // PostgreSQL: class 08 (connection exception), 57P01-57P03 (shutdown, cannot connect now).
  if (/^08/.test(code) || /^57P0[123]$/.test(code)) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
    err?.message ?? "",
  );
}
