/** The outbox's SQL handle on the PostgreSQL store's pool (see ../sql.ts). */
import pg from "pg";
import { numberPlaceholders } from "../sql.js";
import type { Sql, SqlRow, SqlValue } from "../sql.js";

const INT8 = 20;

/** bigint (ids, epoch-ms times, COUNT(*)) as numbers, for this handle's queries only. */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

/** Deadlock or serialization failure: the transaction is run again. */
const RETRYABLE = new Set(["40P01", "40001"]);

class OnClient implements Sql {
  constructor(private readonly c: Queryable) {}

  async all<T = SqlRow>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    const r = await this.c.query({ text: numberPlaceholders(sql), values: params, types });
    return r.rows as T[];
  }

  async run(sql: string, params: SqlValue[] = []): Promise<number> {
    const r = await this.c.query({ text: numberPlaceholders(sql), values: params, types });
    return r.rowCount ?? 0;
  }

  tx<T>(fn: (t: Sql) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

export class PostgresSql extends OnClient {
  constructor(private readonly pool: pg.Pool) {
    super(pool);
  }

  override async tx<T>(fn: (t: Sql) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      // A connection lost while checked out is an 'error' event: recorded, never an uncaught one.
      const lost = (e: Error) => (broken = e);
      client.on("error", lost);
      try {
        await client.query("BEGIN");
        const out = await fn(new OnClient(client));
        await client.query("COMMIT");
        return out;
      } catch (e) {
        await client.query("ROLLBACK").catch((err: Error) => (broken = err));
        if (attempt < 3 && RETRYABLE.has((e as { code?: string }).code ?? "")) continue;
        throw e;
      } finally {
        // A client whose connection failed is dropped, not handed back to the pool.
        client.off("error", lost);
        client.release(broken);
      }
    }
  }
}
