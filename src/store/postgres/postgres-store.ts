/**
 * The store on PostgreSQL (SLIPWAY_DATABASE_URL): for teams that run the daemon on several
 * machines or want history in their managed database. Tables live in their own schema
 * ("slipway" by default) so they never collide with the application's tables.
 */
import pg from "pg";
import type { Instance } from "../../drivers/driver.js";
import type { Logger } from "../../logger.js";
import { silentLogger } from "../../logger.js";
import { JOURNAL_PATCH, REVISION_PATCH, patchPairs } from "../columns.js";
import type { RevisionPatch } from "../columns.js";
import { StoreError, redactUrl } from "../errors.js";
import { migrate } from "./migrate.js";
import { toEvent, toRevision, toStep } from "./rows.js";
import type { RecordStore } from "../records.js";
import type { EventRecord, JournalStep, LockInfo, Revision, Store } from "../store.js";
import { PostgresRecords } from "./records.js";
import { PostgresUsers } from "./users.js";
import type { Sql } from "../sql.js";
import { PostgresSql } from "./sql.js";

export interface PostgresStoreOptions {
  url: string;
  /** Schema holding Slipway's tables (default "slipway"); created when missing. */
  schema?: string;
  /** Pool size (default 5). */
  maxConnections?: number;
  logger?: Logger;
}

type Row = Record<string, unknown>;

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));
const jsonParam = (v: unknown): string => JSON.stringify(v);

export class PostgresStore implements Store {
  private constructor(
    private readonly pool: pg.Pool,
    readonly schema: string,
  ) {
    this.outbox = new PostgresSql(pool);
  }

  /** Connect, create the schema and apply pending migrations. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const log = opts.logger ?? silentLogger;
    const schema = opts.schema ?? "slipway";
    if (!SCHEMA_RE.test(schema)) {
      throw new StoreError(`invalid store schema name "${schema}": use lower-case letters, digits and _`);
    }
    const where = redactUrl(opts.url);
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.maxConnections ?? 5,
      options: `-c search_path=${schema}`,
      connectionTimeoutMillis: 10_000,
    });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on("error", (e) => log.warn("store connection lost", { error: e.message, database: where }));
    try {
      await migrate(pool, schema, where, log);
    } catch (e) {
      await pool.end().catch(() => {});
      if (e instanceof StoreError) throw e;
      throw new StoreError(`cannot open the store database ${where}: ${(e as Error).message}`);
    }
    return new PostgresStore(pool, schema);
  }

  /** The alert outbox's tables (../sql.ts). */
  readonly outbox: Sql;

  private readonly records = new PostgresRecords(
    (sql, params) => this.q(sql, params),
    async (sql, params) => (await this.pool.query(sql, params)).rowCount ?? 0,
  );

  readonly auth = new PostgresUsers(
    (sql, params) => this.q(sql, params),
    async (sql, params) => (await this.pool.query(sql, params)).rowCount ?? 0,
  );

  private async q(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(sql, params)).rows as Row[];
  }

  async createRevision(rev: Omit<Revision, "number" | "createdAt">): Promise<Revision> {
    const createdAt = new Date().toISOString();
    // Counter bump and insert in one transaction: the counter row lock serialises concurrent
    // deploys of one environment and a failed insert rolls the number back.
    const rows = await this.q(
      `WITH n AS (
         INSERT INTO revision_counters (project, env, last) VALUES ($1, $2, 1)
         ON CONFLICT (project, env) DO UPDATE SET last = revision_counters.last + 1
         RETURNING last
       )
       INSERT INTO revisions (project, env, number, version, status, snapshot, services, actor,
         description, rollback_of, skip_checks, created_at, finished_at, reason, facts)
       SELECT $1, $2, n.last, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM n
       RETURNING number`,
      [
        rev.project,
        rev.env,
        rev.version,
        rev.status,
        jsonParam(rev.snapshot ?? null),
        jsonParam(rev.services),
        rev.actor,
        rev.description,
        rev.rollbackOf ?? null,
        rev.skipChecks,
        createdAt,
        rev.finishedAt ?? null,
        rev.reason ?? null,
        jsonParam(rev.facts ?? {}),
      ],
    );
    return { ...rev, facts: rev.facts ?? {}, number: rows[0].number as number, createdAt };
  }

  async updateRevision(project: string, env: string, number: number, patch: RevisionPatch): Promise<void> {
    const pairs = patchPairs(patch, REVISION_PATCH, jsonParam);
    const sets = pairs.map((p, i) => `${p.column} = $${i + 4}`).join(", ");
    const sql = sets
      ? `UPDATE revisions SET ${sets} WHERE project = $1 AND env = $2 AND number = $3 RETURNING 1`
      : `SELECT 1 FROM revisions WHERE project = $1 AND env = $2 AND number = $3`;
    const rows = await this.q(sql, [project, env, number, ...pairs.map((p) => p.value)]);
    if (!rows.length) throw new StoreError(`revision ${number} of ${project}/${env} does not exist`);
  }

  async getRevision(project: string, env: string, number: number): Promise<Revision | undefined> {
    const rows = await this.q(`SELECT * FROM revisions WHERE project = $1 AND env = $2 AND number = $3`, [
      project,
      env,
      number,
    ]);
    return rows[0] && toRevision(rows[0]);
  }

  async listRevisions(project: string, env: string, opts: { limit?: number } = {}): Promise<Revision[]> {
    const rows = await this.q(
      `SELECT * FROM revisions WHERE project = $1 AND env = $2 ORDER BY number DESC LIMIT $3`,
      [project, env, limitOf(opts.limit)],
    );
    return rows.map(toRevision);
  }

  async currentRevision(project: string, env: string): Promise<Revision | undefined> {
    const rows = await this.q(
      `SELECT * FROM revisions WHERE project = $1 AND env = $2 AND status = 'deployed'
       ORDER BY number DESC LIMIT 1`,
      [project, env],
    );
    return rows[0] && toRevision(rows[0]);
  }

  async journalAppend(step: JournalStep): Promise<void> {
    await this.q(
      `INSERT INTO journal (project, env, revision, seq, kind, service, description, status,
         started_at, finished_at, duration_ms, message, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT (project, env, revision, seq) DO UPDATE SET
         kind = excluded.kind, service = excluded.service, description = excluded.description,
         status = excluded.status, started_at = excluded.started_at,
         finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
         message = excluded.message, data = excluded.data`,
      [
        step.project,
        step.env,
        step.revision,
        step.seq,
        step.kind,
        step.service ?? null,
        step.description,
        step.status,
        step.startedAt ?? null,
        step.finishedAt ?? null,
        step.durationMs ?? null,
        step.message ?? null,
        step.data === undefined ? null : jsonParam(step.data),
      ],
    );
  }

  async journalUpdate(
    project: string,
    env: string,
    revision: number,
    seq: number,
    patch: Partial<JournalStep>,
  ): Promise<void> {
    const pairs = patchPairs(patch, JOURNAL_PATCH, jsonParam);
    const where = `project = $1 AND env = $2 AND revision = $3 AND seq = $4`;
    const sql = pairs.length
      ? `UPDATE journal SET ${pairs.map((p, i) => `${p.column} = $${i + 5}`).join(", ")} WHERE ${where} RETURNING 1`
      : `SELECT 1 FROM journal WHERE ${where}`;
    const rows = await this.q(sql, [project, env, revision, seq, ...pairs.map((p) => p.value)]);
    if (!rows.length) {
      throw new StoreError(`journal step ${seq} of ${project}/${env} revision ${revision} does not exist`);
    }
  }

  async journal(project: string, env: string, revision: number): Promise<JournalStep[]> {
    const rows = await this.q(
      `SELECT * FROM journal WHERE project = $1 AND env = $2 AND revision = $3 ORDER BY seq`,
      [project, env, revision],
    );
    return rows.map(toStep);
  }

  async putInstance(inst: Instance): Promise<void> {
    await this.q(
      `INSERT INTO instances (project, env, id, service, slot, idx, data, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now())
       ON CONFLICT (project, env, id) DO UPDATE SET service = excluded.service, slot = excluded.slot,
         idx = excluded.idx, data = excluded.data, updated_at = excluded.updated_at`,
      [inst.project, inst.env, inst.id, inst.service, inst.slot, inst.index, jsonParam(inst)],
    );
  }

  async removeInstance(project: string, env: string, id: string): Promise<void> {
    await this.q(`DELETE FROM instances WHERE project = $1 AND env = $2 AND id = $3`, [project, env, id]);
  }

  async listInstances(project: string, env?: string): Promise<Instance[]> {
    const rows =
      env === undefined
        ? await this.q(`SELECT data FROM instances WHERE project = $1 ${INSTANCE_ORDER}`, [project])
        : await this.q(`SELECT data FROM instances WHERE project = $1 AND env = $2 ${INSTANCE_ORDER}`, [
            project,
            env,
          ]);
    return rows.map((r) => r.data as Instance);
  }

  async allInstances(): Promise<Instance[]> {
    return (await this.q(`SELECT data FROM instances ${INSTANCE_ORDER}`)).map((r) => r.data as Instance);
  }

  async revisedEnvironments(): Promise<{ project: string; env: string }[]> {
    const rows = await this.q(`SELECT DISTINCT project, env FROM revisions ORDER BY project, env`);
    return rows.map((r) => ({ project: r.project as string, env: r.env as string }));
  }

  async unfinishedEnvironments(): Promise<{ project: string; env: string }[]> {
    const rows = await this.q(
      `SELECT project, env FROM revisions WHERE status = 'in-progress' UNION SELECT project, env FROM locks`,
    );
    return rows.map((r) => ({ project: r.project as string, env: r.env as string }));
  }

  async acquireLock(lock: LockInfo): Promise<{ ok: true } | { ok: false; holder: LockInfo }> {
    for (;;) {
      const inserted = await this.q(
        `INSERT INTO locks (project, env, holder, operation, pid, acquired_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (project, env) DO NOTHING RETURNING 1`,
        [lock.project, lock.env, lock.holder, lock.operation, lock.pid, lock.acquiredAt],
      );
      if (inserted.length) return { ok: true };
      // Retry when the holder released between our failed insert and our read.
      const holder = await this.getLock(lock.project, lock.env);
      if (holder) return { ok: false, holder };
    }
  }

  async releaseLock(project: string, env: string, holder?: string): Promise<boolean> {
    const rows =
      holder === undefined
        ? await this.q(`DELETE FROM locks WHERE project = $1 AND env = $2 RETURNING 1`, [project, env])
        : await this.q(`DELETE FROM locks WHERE project = $1 AND env = $2 AND holder = $3 RETURNING 1`, [
            project,
            env,
            holder,
          ]);
    return rows.length > 0;
  }

  async takeOverLock(lock: LockInfo, staleHolder: string): Promise<boolean> {
    const rows = await this.q(
      `UPDATE locks SET holder = $1, operation = $2, pid = $3, acquired_at = $4
       WHERE project = $5 AND env = $6 AND holder = $7 RETURNING 1`,
      [lock.holder, lock.operation, lock.pid, lock.acquiredAt, lock.project, lock.env, staleHolder],
    );
    return rows.length === 1;
  }

  async getLock(project: string, env: string): Promise<LockInfo | undefined> {
    const [row] = await this.q(`SELECT * FROM locks WHERE project = $1 AND env = $2`, [project, env]);
    return (
      row && {
        project: row.project as string,
        env: row.env as string,
        holder: row.holder as string,
        operation: row.operation as string,
        pid: row.pid as number,
        acquiredAt: iso(row.acquired_at),
      }
    );
  }

  async addEvent(e: EventRecord): Promise<number> {
    const [row] = await this.q(
      `INSERT INTO events (project, env, time, kind, severity, service, revision, message, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [
        e.project,
        e.env,
        e.time,
        e.kind,
        e.severity,
        e.service ?? null,
        e.revision ?? null,
        e.message,
        e.data === undefined ? null : jsonParam(e.data),
      ],
    );
    return Number(row.id);
  }

  async listEvents(
    project: string,
    env?: string,
    opts: { limit?: number; afterId?: number } = {},
  ): Promise<EventRecord[]> {
    const params: unknown[] = [project];
    let where = `project = $1`;
    if (env !== undefined) {
      params.push(env);
      where += ` AND env = $${params.length}`;
    }
    if (opts.afterId !== undefined) {
      params.push(opts.afterId, limitOf(opts.limit));
      const rows = await this.q(
        `SELECT * FROM events WHERE ${where} AND id > $${params.length - 1} ORDER BY id LIMIT $${params.length}`,
        params,
      );
      return rows.map(toEvent);
    }
    params.push(limitOf(opts.limit));
    const rows = await this.q(
      `SELECT * FROM events WHERE ${where} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.reverse().map(toEvent);
  }

  async getMeta(key: string): Promise<string | undefined> {
    const [row] = await this.q(`SELECT value FROM meta WHERE key = $1`, [key]);
    return row?.value as string | undefined;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.q(
      `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [key, value],
    );
  }

  // ── the backup catalog and silences (records.ts) ──────────────────────────────────────────
  readonly putBackup: RecordStore["putBackup"] = (r) => this.records.putBackup(r);
  readonly getBackup: RecordStore["getBackup"] = (id) => this.records.getBackup(id);
  readonly listBackups: RecordStore["listBackups"] = (p, e, s) => this.records.listBackups(p, e, s);
  readonly runningBackups: RecordStore["runningBackups"] = () => this.records.runningBackups();
  readonly deleteBackup: RecordStore["deleteBackup"] = (id) => this.records.deleteBackup(id);
  readonly addSilence: RecordStore["addSilence"] = (s) => this.records.addSilence(s);
  readonly getSilence: RecordStore["getSilence"] = (p, e, id) => this.records.getSilence(p, e, id);
  readonly listSilences: RecordStore["listSilences"] = (p, e, o) => this.records.listSilences(p, e, o);
  readonly setSilenceEnd: RecordStore["setSilenceEnd"] = (p, e, id, t) =>
    this.records.setSilenceEnd(p, e, id, t);
  readonly pruneSilences: RecordStore["pruneSilences"] = (t) => this.records.pruneSilences(t);

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

const INSTANCE_ORDER = `ORDER BY project, env, service, slot, idx, id`;

/** LIMIT NULL means "no limit" in PostgreSQL. */
function limitOf(limit: number | undefined): number | null {
  return limit === undefined ? null : Math.max(0, Math.floor(limit));
}
