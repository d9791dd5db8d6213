/**
 * The backup catalog: one row per backup in the store's SQLite database, in tables of its own
 * (prefix backup_) with its own schema version, created idempotently.
 */
import type Database from "better-sqlite3";
import type { BackupConfig, BackupFacts, BackupType } from "./provider.js";

export type BackupStatus = "running" | "ok" | "failed" | "verified" | "corrupt";

export interface BackupRecord {
  /** Short and typeable: `<service>-<UTC timestamp>-<4 hex>`. */
  id: string;
  project: string;
  env: string;
  service: string;
  revision?: number;
  type: BackupType;
  status: BackupStatus;
  /** What was backed up, without secrets (a redacted URL, the paths …). */
  source: string;
  startedAt: string;
  finishedAt?: string;
  /** Bytes of the artifact. */
  size?: number;
  sha256?: string;
  /** Where the artifact is (a file path for local storage). */
  location?: string;
  /** Storage key of the artifact. */
  key: string;
  /** Facts recorded at backup time (row counts, key counts, file manifest). */
  facts: BackupFacts;
  /** The provider configuration with the URL's password removed. */
  config: BackupConfig;
  /** Why the backup failed, or why it was found corrupt. */
  error?: string;
  verifiedAt?: string;
  /** One line from the last verify. */
  verifyDetail?: string;
}

const SCHEMA_VERSION = 1;

const DDL = `
CREATE TABLE IF NOT EXISTS backup_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS backup_records (
  id TEXT PRIMARY KEY,
  project TEXT NOT NULL,
  env TEXT NOT NULL,
  service TEXT NOT NULL,
  revision INTEGER,
  type TEXT NOT NULL,
  status TEXT NOT NULL,
  source TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  size INTEGER,
  sha256 TEXT,
  location TEXT,
  storage_key TEXT NOT NULL,
  facts TEXT NOT NULL DEFAULT '{}',
  config TEXT NOT NULL DEFAULT '{}',
  error TEXT,
  verified_at TEXT,
  verify_detail TEXT
);
CREATE INDEX IF NOT EXISTS backup_records_by_env ON backup_records (project, env, service, started_at);
`;

interface Row {
  id: string;
  project: string;
  env: string;
  service: string;
  revision: number | null;
  type: string;
  status: string;
  source: string;
  started_at: string;
  finished_at: string | null;
  size: number | null;
  sha256: string | null;
  location: string | null;
  storage_key: string;
  facts: string;
  config: string;
  error: string | null;
  verified_at: string | null;
  verify_detail: string | null;
}

function fromRow(r: Row): BackupRecord {
  const rec: BackupRecord = {
    id: r.id,
    project: r.project,
    env: r.env,
    service: r.service,
    type: r.type as BackupType,
    status: r.status as BackupStatus,
    source: r.source,
    startedAt: r.started_at,
    key: r.storage_key,
    facts: JSON.parse(r.facts) as BackupFacts,
    config: JSON.parse(r.config) as BackupConfig,
  };
  if (r.revision !== null) rec.revision = r.revision;
  if (r.finished_at !== null) rec.finishedAt = r.finished_at;
  if (r.size !== null) rec.size = r.size;
  if (r.sha256 !== null) rec.sha256 = r.sha256;
  if (r.location !== null) rec.location = r.location;
  if (r.error !== null) rec.error = r.error;
  if (r.verified_at !== null) rec.verifiedAt = r.verified_at;
  if (r.verify_detail !== null) rec.verifyDetail = r.verify_detail;
  return rec;
}

export class BackupCatalog {
  constructor(private readonly db: Database.Database) {
    db.exec(DDL);
    const row = db.prepare("SELECT value FROM backup_meta WHERE key = 'schema_version'").get() as
      { value: string } | undefined;
    if (!row)
      db.prepare("INSERT INTO backup_meta (key, value) VALUES ('schema_version', ?)").run(
        String(SCHEMA_VERSION),
      );
    else if (Number(row.value) > SCHEMA_VERSION)
      throw new Error(
        `the backup catalog has schema version ${row.value}, newer than this Slipway understands (${SCHEMA_VERSION})`,
      );
  }

  insert(r: BackupRecord): void {
    this.db
      .prepare(
        `INSERT INTO backup_records (id, project, env, service, revision, type, status, source, started_at,
           finished_at, size, sha256, location, storage_key, facts, config, error, verified_at, verify_detail)
         VALUES (@id, @project, @env, @service, @revision, @type, @status, @source, @startedAt, @finishedAt,
           @size, @sha256, @location, @key, @facts, @config, @error, @verifiedAt, @verifyDetail)`,
      )
      .run(this.params(r));
  }

  update(r: BackupRecord): void {
    this.db
      .prepare(
        `UPDATE backup_records SET status = @status, finished_at = @finishedAt, size = @size, sha256 = @sha256,
           location = @location, facts = @facts, error = @error, verified_at = @verifiedAt,
           verify_detail = @verifyDetail WHERE id = @id`,
      )
      .run(this.params(r));
  }

  private params(r: BackupRecord): Record<string, unknown> {
    return {
      id: r.id,
      project: r.project,
      env: r.env,
      service: r.service,
      revision: r.revision ?? null,
      type: r.type,
      status: r.status,
      source: r.source,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt ?? null,
      size: r.size ?? null,
      sha256: r.sha256 ?? null,
      location: r.location ?? null,
      key: r.key,
      facts: JSON.stringify(r.facts),
      config: JSON.stringify(r.config),
      error: r.error ?? null,
      verifiedAt: r.verifiedAt ?? null,
      verifyDetail: r.verifyDetail ?? null,
    };
  }

  get(id: string): BackupRecord | undefined {
    const r = this.db.prepare("SELECT * FROM backup_records WHERE id = ?").get(id) as Row | undefined;
    return r && fromRow(r);
  }

  /** Newest first. */
  list(project: string, env: string, service?: string): BackupRecord[] {
    const rows = (
      service === undefined
        ? this.db
            .prepare(
              "SELECT * FROM backup_records WHERE project = ? AND env = ? ORDER BY started_at DESC, id DESC",
            )
            .all(project, env)
        : this.db
            .prepare(
              "SELECT * FROM backup_records WHERE project = ? AND env = ? AND service = ? ORDER BY started_at DESC, id DESC",
            )
            .all(project, env, service)
    ) as Row[];
    return rows.map(fromRow);
  }

  running(): BackupRecord[] {
    return (this.db.prepare("SELECT * FROM backup_records WHERE status = 'running'").all() as Row[]).map(
      fromRow,
    );
  }

  delete(id: string): void {
    this.db.prepare("DELETE FROM backup_records WHERE id = ?").run(id);
  }
}
