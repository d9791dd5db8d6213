/**
 * The notifier's handle on its SQLite tables: statements prepared once and reused (preparing
 * costs more than running these small statements), and one way to run a write transaction.
 */
import type { Db, Statement } from "./outbox.js";

export class NotifySql {
  private readonly statements = new Map<string, Statement>();

  constructor(readonly db: Db) {}

  q(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) this.statements.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  /** IMMEDIATE, so two notifiers on one file never deadlock upgrading a read lock; nests. */
  tx(fn: () => void): void {
    if (this.db.inTransaction) fn();
    else this.db.transaction(fn).immediate();
  }
}

/** Alert statuses still to be notified. */
export const ACTIVE = "('firing','resolved')";
