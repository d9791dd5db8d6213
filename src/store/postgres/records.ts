/** The backup catalog and silences in the PostgreSQL store (tables from migration 0002). */
import {
  BACKUP_COLUMNS,
  SILENCE_COLUMNS,
  backupFromRow,
  backupValues,
  isoTime,
  silenceFromRow,
  silenceValues,
} from "../record-rows.js";
import type { BackupRecord, RecordStore, SilenceRecord } from "../records.js";

type Row = Record<string, unknown>;
type Query = (sql: string, params?: unknown[]) => Promise<Row[]>;
type Exec = (sql: string, params?: unknown[]) => Promise<number>;

const params = (n: number) => Array.from({ length: n }, (_, i) => `$${i + 1}`).join(", ");

export class PostgresRecords implements RecordStore {
  constructor(
    private readonly q: Query,
    /** Runs a statement and returns the number of rows it changed. */
    private readonly exec: Exec,
  ) {}

  async putBackup(rec: BackupRecord): Promise<void> {
    const updates = BACKUP_COLUMNS.filter((c) => c !== "id")
      .map((c) => `${c} = EXCLUDED.${c}`)
      .join(", ");
    await this.q(
      `INSERT INTO backup_records (${BACKUP_COLUMNS.join(", ")}) VALUES (${params(BACKUP_COLUMNS.length)})
       ON CONFLICT (id) DO UPDATE SET ${updates}`,
      backupValues(rec),
    );
  }

  async getBackup(id: string): Promise<BackupRecord | undefined> {
    const [r] = await this.q("SELECT * FROM backup_records WHERE id = $1", [id]);
    return r && backupFromRow(r);
  }

  async listBackups(project: string, env: string, service?: string): Promise<BackupRecord[]> {
    // COLLATE "C": the same byte order as SQLite, whatever the database's locale.
    const order = `ORDER BY started_at COLLATE "C" DESC, id COLLATE "C" DESC`;
    const rows =
      service === undefined
        ? await this.q(`SELECT * FROM backup_records WHERE project = $1 AND env = $2 ${order}`, [
            project,
            env,
          ])
        : await this.q(
            `SELECT * FROM backup_records WHERE project = $1 AND env = $2 AND service = $3 ${order}`,
            [project, env, service],
          );
    return rows.map(backupFromRow);
  }

  async runningBackups(): Promise<BackupRecord[]> {
    const rows = await this.q(
      `SELECT * FROM backup_records WHERE status = 'running' ORDER BY id COLLATE "C"`,
    );
    return rows.map(backupFromRow);
  }

  async deleteBackup(id: string): Promise<boolean> {
    return (await this.exec("DELETE FROM backup_records WHERE id = $1", [id])) > 0;
  }

  async addSilence(s: SilenceRecord): Promise<void> {
    await this.q(
      `INSERT INTO alert_silences (${SILENCE_COLUMNS.join(", ")}) VALUES (${params(SILENCE_COLUMNS.length)})`,
      silenceValues(s),
    );
  }

  async getSilence(project: string, env: string, id: string): Promise<SilenceRecord | undefined> {
    const [r] = await this.q("SELECT * FROM alert_silences WHERE project = $1 AND env = $2 AND id = $3", [
      project,
      env,
      id,
    ]);
    return r && silenceFromRow(r);
  }

  async listSilences(
    project: string,
    env: string,
    opts: { endsAfter?: string } = {},
  ): Promise<SilenceRecord[]> {
    const order = `ORDER BY created_at DESC, id COLLATE "C" DESC`;
    const rows =
      opts.endsAfter === undefined
        ? await this.q(`SELECT * FROM alert_silences WHERE project = $1 AND env = $2 ${order}`, [
            project,
            env,
          ])
        : await this.q(
            `SELECT * FROM alert_silences WHERE project = $1 AND env = $2 AND ends_at > $3 ${order}`,
            [project, env, isoTime(opts.endsAfter)],
          );
    return rows.map(silenceFromRow);
  }

  async setSilenceEnd(project: string, env: string, id: string, endsAt: string): Promise<boolean> {
    const n = await this.exec(
      "UPDATE alert_silences SET ends_at = $4 WHERE project = $1 AND env = $2 AND id = $3",
      [project, env, id, isoTime(endsAt)],
    );
    return n > 0;
  }

  async pruneSilences(before: string): Promise<number> {
    return this.exec("DELETE FROM alert_silences WHERE ends_at < $1", [isoTime(before)]);
  }
}
