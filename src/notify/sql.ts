/**
 * The notifier's handle on its outbox in the store: the store's SQL handle (store/sql.ts) and
 * the id of this environment's outbox, which every statement names.
 */
import type { Sql, SqlValue } from "../store/sql.js";

export class NotifySql {
  constructor(
    readonly db: Sql,
    /** outboxes.id of this project/environment. */
    readonly outbox: number,
  ) {}

  all<T>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    return this.db.all<T>(sql, params);
  }

  async one<T>(sql: string, params: SqlValue[] = []): Promise<T | undefined> {
    return (await this.db.all<T>(sql, params))[0];
  }

  run(sql: string, params: SqlValue[] = []): Promise<number> {
    return this.db.run(sql, params);
  }

  /** One transaction; statements inside must go through `t`, never through this handle. */
  tx<T>(fn: (t: NotifySql) => Promise<T>): Promise<T> {
    return this.db.tx((t) => fn(new NotifySql(t, this.outbox)));
  }
}

/** Alert statuses still to be notified. */
export const ACTIVE = "('firing','resolved')";
