/**
 * The default store: one SQLite file, `${home}/slipway.db`, shared by the daemon and
 * `--in-process` CLIs. WAL lets readers run beside the single writer; busy_timeout makes a
 * second process wait for the write lock instead of failing with SQLITE_BUSY. Every write
 * is one statement or an IMMEDIATE transaction, so nobody upgrades a stale read snapshot.
 */
import Database from "better-sqlite3";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import type { Instance } from "../../drivers/driver.js";
import type { Logger } from "../../logger.js";
import { silentLogger } from "../../logger.js";
import { JOURNAL_PATCH, REVISION_PATCH, patchPairs } from "../columns.js";
import type { RevisionPatch } from "../columns.js";
import { StoreError } from "../errors.js";
import { migrate } from "./migrate.js";
import { toEvent, toRevision, toStep } from "./rows.js";
import type { RecordStore } from "../records.js";
import type { EventRecord, JournalStep, LockInfo, Revision, Store } from "../store.js";
import { SqliteRecords } from "./records.js";
import { SqliteUsers } from "./users.js";
import type { Sql } from "../sql.js";
import { Gate, SqliteSql, gated } from "./sql.js";

export interface SqliteStoreOptions {
  /** Directory of the store (SLIPWAY_HOME); created with mode 0700 when missing. */
  home: string;
  /** How long a writer waits for another process's write lock (default 10 s). */
  busyTimeoutMs?: number;
  logger?: Logger;
}

export const SQLITE_FILE = "slipway.db";

type Row = Record<string, unknown>;

const json = (v: unknown): string => JSON.stringify(v);
const parse = <T>(v: unknown, fallback: T): T => (typeof v === "string" ? (JSON.parse(v) as T) : fallback);

type EnvKey = { project: string; env: string };

export class SqliteStore implements Store {
  readonly file: string;
  private readonly db: Database.Database;

  private constructor(file: string, db: Database.Database) {
    this.file = file;
    this.db = db;
    this.outbox = new SqliteSql(db, (sql) => this.q(sql), this.gate);
  }

  /** Open (creating and migrating when needed) the store in `opts.home`. */
  static open(opts: SqliteStoreOptions): SqliteStore {
    const log = opts.logger ?? silentLogger;
    const file = join(opts.home, SQLITE_FILE);
    let db: Database.Database;
    try {
      if (!existsSync(opts.home)) {
        mkdirSync(opts.home, { recursive: true, mode: 0o700 });
        chmodSync(opts.home, 0o700);
      }
      // Create the file ourselves so it never exists with a looser mode; SQLite gives the
      // -wal and -shm files the same mode as the database file.
      closeSync(openSync(file, "a", 0o600));
      chmodSync(file, 0o600);
      db = new Database(file, { timeout: opts.busyTimeoutMs ?? 10_000 });
    } catch (e) {
      throw new StoreError(`cannot open the store at ${file}: ${(e as Error).message}`);
    }
    try {
      db.pragma(`busy_timeout = ${Math.floor(opts.busyTimeoutMs ?? 10_000)}`);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      migrate(db, file, log);
    } catch (e) {
      db.close();
      if (e instanceof StoreError) throw e;
      const msg = (e as Error).message;
      throw new StoreError(
        /not a database|malformed/i.test(msg)
          ? `${file} is not a Slipway store (${msg}); move it away or set SLIPWAY_HOME to another directory`
          : `cannot open the store at ${file}: ${msg}`,
      );
    }
    // Every method waits while an outbox transaction is open (./sql.ts explains why).
    const store = new SqliteStore(file, db);
    return gated(store, store.gate, UNGATED);
  }

  private readonly statements = new Map<string, Database.Statement>();
  private readonly records = new SqliteRecords((sql) => this.q(sql));
  private readonly gate = new Gate();
  readonly auth = gated(new SqliteUsers((sql) => this.q(sql)), this.gate, new Set<string>()); // waits for an open outbox transaction
  /** The alert outbox's tables (../sql.ts). */
  readonly outbox: Sql;

  /** Prepared statements are cached: preparing is most of the cost of a small query. */
  private q(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** The better-sqlite3 handle, for tests that look at (or tamper with) the file itself. */
  raw(): Database.Database {
    return this.db;
  }

  async createRevision(rev: Omit<Revision, "number" | "createdAt">): Promise<Revision> {
    const createdAt = new Date().toISOString();
    // One INSERT … SELECT takes the write lock before it reads MAX(number): atomic across
    // connections and processes; UNIQUE(project, env, number) is the backstop.
    const row = this.q(
      `INSERT INTO revisions (project, env, number, version, status, snapshot, services, actor,
           description, rollback_of, skip_checks, created_at, finished_at, reason, facts)
         SELECT @project, @env, COALESCE(MAX(number), 0) + 1, @version, @status, @snapshot, @services,
           @actor, @description, @rollbackOf, @skipChecks, @createdAt, @finishedAt, @reason, @facts
         FROM revisions WHERE project = @project AND env = @env
         RETURNING number`,
    ).get({
      project: rev.project,
      env: rev.env,
      version: rev.version,
      status: rev.status,
      snapshot: json(rev.snapshot ?? null),
      services: json(rev.services),
      actor: rev.actor,
      description: rev.description,
      rollbackOf: rev.rollbackOf ?? null,
      skipChecks: rev.skipChecks ? 1 : 0,
      createdAt,
      finishedAt: rev.finishedAt ?? null,
      reason: rev.reason ?? null,
      facts: json(rev.facts ?? {}),
    }) as { number: number };
    return { ...rev, facts: rev.facts ?? {}, number: row.number, createdAt };
  }

  async updateRevision(project: string, env: string, number: number, patch: RevisionPatch): Promise<void> {
    const pairs = patchPairs(patch, REVISION_PATCH, json);
    const sets = pairs.map((p) => `${p.column} = ?`).join(", ");
    const sql = sets
      ? `UPDATE revisions SET ${sets} WHERE project = ? AND env = ? AND number = ?`
      : `SELECT 1 FROM revisions WHERE project = ? AND env = ? AND number = ?`;
    const args = [...pairs.map((p) => p.value), project, env, number];
    const found = sets ? this.q(sql).run(...args).changes > 0 : !!this.q(sql).get(...args);
    if (!found) throw new StoreError(`revision ${number} of ${project}/${env} does not exist`);
  }

  async getRevision(project: string, env: string, number: number): Promise<Revision | undefined> {
    const row = this.q(`SELECT * FROM revisions WHERE project = ? AND env = ? AND number = ?`).get(
      project,
      env,
      number,
    ) as Row | undefined;
    return row && toRevision(row);
  }

  async listRevisions(project: string, env: string, opts: { limit?: number } = {}): Promise<Revision[]> {
    const rows = this.q(
      `SELECT * FROM revisions WHERE project = ? AND env = ? ORDER BY number DESC LIMIT ?`,
    ).all(project, env, limitOf(opts.limit)) as Row[];
    return rows.map(toRevision);
  }

  async currentRevision(project: string, env: string): Promise<Revision | undefined> {
    const row = this.q(
      `SELECT * FROM revisions WHERE project = ? AND env = ? AND status = 'deployed'
         ORDER BY number DESC LIMIT 1`,
    ).get(project, env) as Row | undefined;
    return row && toRevision(row);
  }

  async journalAppend(step: JournalStep): Promise<void> {
    // Appending a step that is already there replaces it: recovery may re-journal a step.
    this.q(
      `INSERT INTO journal (project, env, revision, seq, kind, service, description, status,
           started_at, finished_at, duration_ms, message, data)
         VALUES (@project, @env, @revision, @seq, @kind, @service, @description, @status,
           @startedAt, @finishedAt, @durationMs, @message, @data)
         ON CONFLICT (project, env, revision, seq) DO UPDATE SET
           kind = excluded.kind, service = excluded.service, description = excluded.description,
           status = excluded.status, started_at = excluded.started_at,
           finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
           message = excluded.message, data = excluded.data`,
    ).run({
      project: step.project,
      env: step.env,
      revision: step.revision,
      seq: step.seq,
      kind: step.kind,
      service: step.service ?? null,
      description: step.description,
      status: step.status,
      startedAt: step.startedAt ?? null,
      finishedAt: step.finishedAt ?? null,
      durationMs: step.durationMs ?? null,
      message: step.message ?? null,
      data: step.data === undefined ? null : json(step.data),
    });
  }

  async journalUpdate(
    project: string,
    env: string,
    revision: number,
    seq: number,
    patch: Partial<JournalStep>,
  ): Promise<void> {
    const pairs = patchPairs(patch, JOURNAL_PATCH, json);
    const where = `project = ? AND env = ? AND revision = ? AND seq = ?`;
    const args = [...pairs.map((p) => p.value), project, env, revision, seq];
    const found = pairs.length
      ? this.q(`UPDATE journal SET ${pairs.map((p) => `${p.column} = ?`).join(", ")} WHERE ${where}`).run(
          ...args,
        ).changes > 0
      : !!this.q(`SELECT 1 FROM journal WHERE ${where}`).get(...args);
    if (!found)
      throw new StoreError(`journal step ${seq} of ${project}/${env} revision ${revision} does not exist`);
  }

  async journal(project: string, env: string, revision: number): Promise<JournalStep[]> {
    const rows = this.q(
      `SELECT * FROM journal WHERE project = ? AND env = ? AND revision = ? ORDER BY seq`,
    ).all(project, env, revision) as Row[];
    return rows.map(toStep);
  }

  async putInstance(inst: Instance): Promise<void> {
    this.q(
      `INSERT INTO instances (project, env, id, service, slot, idx, data, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (project, env, id) DO UPDATE SET service = excluded.service, slot = excluded.slot,
           idx = excluded.idx, data = excluded.data, updated_at = excluded.updated_at`,
    ).run(
      inst.project,
      inst.env,
      inst.id,
      inst.service,
      inst.slot,
      inst.index,
      json(inst),
      new Date().toISOString(),
    );
  }

  async removeInstance(project: string, env: string, id: string): Promise<void> {
    this.q(`DELETE FROM instances WHERE project = ? AND env = ? AND id = ?`).run(project, env, id);
  }

  async listInstances(project: string, env?: string): Promise<Instance[]> {
    const where = env === undefined ? "project = ?" : "project = ? AND env = ?";
    const args = env === undefined ? [project] : [project, env];
    const rows = this.q(`SELECT data FROM instances WHERE ${where} ${INSTANCE_ORDER}`).all(...args) as Row[];
    return rows.map((r) => parse<Instance>(r.data, {} as Instance));
  }

  async allInstances(): Promise<Instance[]> {
    const rows = this.q(`SELECT data FROM instances ${INSTANCE_ORDER}`).all() as Row[];
    return rows.map((r) => parse<Instance>(r.data, {} as Instance));
  }

  async revisedEnvironments(): Promise<EnvKey[]> {
    return this.q(`SELECT DISTINCT project, env FROM revisions ORDER BY project, env`).all() as EnvKey[];
  }

  async unfinishedEnvironments(): Promise<EnvKey[]> {
    const sql = `SELECT project, env FROM revisions WHERE status = 'in-progress' UNION SELECT project, env FROM locks`;
    return this.q(sql).all() as EnvKey[];
  }

  async acquireLock(lock: LockInfo): Promise<{ ok: true } | { ok: false; holder: LockInfo }> {
    const insert = this.q(
      `INSERT INTO locks (project, env, holder, operation, pid, acquired_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (project, env) DO NOTHING`,
    );
    // Retry when the holder released between our failed insert and our read.
    for (;;) {
      const r = insert.run(lock.project, lock.env, lock.holder, lock.operation, lock.pid, lock.acquiredAt);
      if (r.changes === 1) return { ok: true };
      const holder = await this.getLock(lock.project, lock.env);
      if (holder) return { ok: false, holder };
    }
  }

  async releaseLock(project: string, env: string, holder?: string): Promise<boolean> {
    const r =
      holder === undefined
        ? this.q(`DELETE FROM locks WHERE project = ? AND env = ?`).run(project, env)
        : this.q(`DELETE FROM locks WHERE project = ? AND env = ? AND holder = ?`).run(project, env, holder);
    return r.changes > 0;
  }

  async takeOverLock(lock: LockInfo, staleHolder: string): Promise<boolean> {
    const r = this.q(
      `UPDATE locks SET holder = ?, operation = ?, pid = ?, acquired_at = ?
       WHERE project = ? AND env = ? AND holder = ?`,
    ).run(lock.holder, lock.operation, lock.pid, lock.acquiredAt, lock.project, lock.env, staleHolder);
    return r.changes === 1;
  }

  async getLock(project: string, env: string): Promise<LockInfo | undefined> {
    const row = this.q(`SELECT * FROM locks WHERE project = ? AND env = ?`).get(project, env) as
      Row | undefined;
    return (
      row && {
        project: row.project as string,
        env: row.env as string,
        holder: row.holder as string,
        operation: row.operation as string,
        pid: row.pid as number,
        acquiredAt: row.acquired_at as string,
      }
    );
  }

  async addEvent(e: EventRecord): Promise<number> {
    const r = this.q(
      `INSERT INTO events (project, env, time, kind, severity, service, revision, message, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      e.project,
      e.env,
      e.time,
      e.kind,
      e.severity,
      e.service ?? null,
      e.revision ?? null,
      e.message,
      e.data === undefined ? null : json(e.data),
    );
    return Number(r.lastInsertRowid);
  }

  async listEvents(
    project: string,
    env?: string,
    opts: { limit?: number; afterId?: number } = {},
  ): Promise<EventRecord[]> {
    const where = env === undefined ? `project = ?` : `project = ? AND env = ?`;
    const args: unknown[] = env === undefined ? [project] : [project, env];
    let rows: Row[];
    if (opts.afterId !== undefined) {
      rows = this.q(`SELECT * FROM events WHERE ${where} AND id > ? ORDER BY id LIMIT ?`).all(
        ...args,
        opts.afterId,
        limitOf(opts.limit),
      ) as Row[];
    } else {
      rows = (
        this.q(`SELECT * FROM events WHERE ${where} ORDER BY id DESC LIMIT ?`).all(
          ...args,
          limitOf(opts.limit),
        ) as Row[]
      ).reverse();
    }
    return rows.map(toEvent);
  }

  async getMeta(key: string): Promise<string | undefined> {
    const row = this.q(`SELECT value FROM meta WHERE key = ?`).get(key) as Row | undefined;
    return row?.value as string | undefined;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.q(
      `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ).run(key, value);
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
    if (this.db.open) this.db.close();
  }
}

/** Methods that never wait for an outbox transaction (synchronous, or the statement cache). */
const UNGATED = new Set(["raw", "q"]);

const INSTANCE_ORDER = `ORDER BY project, env, service, slot, idx, id`;

/** SQLite's LIMIT -1 means "no limit". */
function limitOf(limit: number | undefined): number {
  return limit === undefined ? -1 : Math.max(0, Math.floor(limit));
}
