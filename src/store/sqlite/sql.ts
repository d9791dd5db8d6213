/**
 * The outbox's SQL handle on the SQLite store's connection (see ../sql.ts).
 *
 * better-sqlite3 is synchronous, but the notifier's transactions are async functions: between
 * two statements of an open BEGIN IMMEDIATE other code of this process may run. The gate keeps
 * it out: while a transaction is open, every other statement of the handle and every method of
 * the store (gated() below) waits for it to end, so nothing joins a transaction it does not
 * belong to. Other processes wait on SQLite's own write lock (busy_timeout), as before.
 */
import type Database from "better-sqlite3";
import type { Sql, SqlRow, SqlValue } from "../sql.js";

/** A FIFO lock; `busy` while a holder runs or callers wait. */
export class Gate {
  private tail: Promise<void> = Promise.resolve();
  private users = 0;

  get busy(): boolean {
    return this.users > 0;
  }

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    this.users++;
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    try {
      await prev;
      return await fn();
    } finally {
      this.users--;
      release();
    }
  }
}

type Prepare = (sql: string) => Database.Statement;

function all<T>(prepare: Prepare, sql: string, params: SqlValue[]): T[] {
  const st = prepare(sql);
  if (st.reader) return st.all(...params) as T[];
  st.run(...params);
  return [];
}

/** Statements straight on the connection: the handle given to a transaction's body. */
class Direct implements Sql {
  constructor(private readonly prepare: Prepare) {}
  async all<T = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    return all<T>(this.prepare, sql, params);
  }
  async run(sql: string, params: SqlValue[] = []): Promise<number> {
    return this.prepare(sql).run(...params).changes;
  }
  tx<T>(fn: (t: Sql) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

export class SqliteSql implements Sql {
  private readonly direct: Direct;

  constructor(
    private readonly db: Database.Database,
    prepare: Prepare,
    private readonly gate: Gate,
  ) {
    this.direct = new Direct(prepare);
  }

  all<T = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    return this.gate.busy
      ? this.gate.run(() => this.direct.all<T>(sql, params))
      : this.direct.all<T>(sql, params);
  }

  run(sql: string, params: SqlValue[] = []): Promise<number> {
    return this.gate.busy ? this.gate.run(() => this.direct.run(sql, params)) : this.direct.run(sql, params);
  }

  tx<T>(fn: (t: Sql) => Promise<T>): Promise<T> {
    return this.gate.run(async () => {
      // IMMEDIATE: take the write lock first, so two processes never deadlock upgrading a read.
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const out = await fn(this.direct);
        this.db.exec("COMMIT");
        return out;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        throw e;
      }
    });
  }
}

/**
 * The store with every method behind the gate while an outbox transaction is open (methods
 * run at once otherwise: the usual case costs one property check).
 */
export function gated<T extends object>(store: T, gate: Gate, open: ReadonlySet<string>): T {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function" || typeof prop !== "string" || open.has(prop)) return v;
      const f = v as (...a: unknown[]) => unknown;
      return (...args: unknown[]) =>
        gate.busy ? gate.run(() => f.apply(target, args)) : f.apply(target, args);
    },
  });
}
