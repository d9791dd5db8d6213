/** The backup catalog and silences in the SQLite store (tables from migration 0002). */
import type Database from "better-sqlite3";
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

const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ");

export class SqliteRecords implements RecordStore {
  constructor(private readonly q: (sql: string) => Database.Statement) {}

  async putBackup(rec: BackupRecord): Promise<void> {
    this.q(
      `INSERT OR REPLACE INTO backup_records (${BACKUP_COLUMNS.join(", ")})
       VALUES (${placeholders(BACKUP_COLUMNS.length)})`,
    ).run(...backupValues(rec));
  }

  async getBackup(id: string): Promise<BackupRecord | undefined> {
    const r = this.q("SELECT * FROM backup_records WHERE id = ?").get(id) as Row | undefined;
    return r && backupFromRow(r);
  }

  async listBackups(project: string, env: string, service?: string): Promise<BackupRecord[]> {
    const rows = (
      service === undefined
        ? this.q(
            "SELECT * FROM backup_records WHERE project = ? AND env = ? ORDER BY started_at DESC, id DESC",
          ).all(project, env)
        : this.q(
            `SELECT * FROM backup_records WHERE project = ? AND env = ? AND service = ?
             ORDER BY started_at DESC, id DESC`,
          ).all(project, env, service)
    ) as Row[];
    return rows.map(backupFromRow);
  }

  async runningBackups(): Promise<BackupRecord[]> {
    const rows = this.q("SELECT * FROM backup_records WHERE status = 'running' ORDER BY id").all() as Row[];
    return rows.map(backupFromRow);
  }

  async deleteBackup(id: string): Promise<boolean> {
    return this.q("DELETE FROM backup_records WHERE id = ?").run(id).changes > 0;
  }

  async addSilence(s: SilenceRecord): Promise<void> {
    this.q(
      `INSERT INTO alert_silences (${SILENCE_COLUMNS.join(", ")}) VALUES (${placeholders(SILENCE_COLUMNS.length)})`,
    ).run(...silenceValues(s));
  }

  async getSilence(project: string, env: string, id: string): Promise<SilenceRecord | undefined> {
    const r = this.q("SELECT * FROM alert_silences WHERE project = ? AND env = ? AND id = ?").get(
      project,
      env,
      id,
    ) as Row | undefined;
    return r && silenceFromRow(r);
  }

  async listSilences(
    project: string,
    env: string,
    opts: { endsAfter?: string } = {},
  ): Promise<SilenceRecord[]> {
    const rows = (
      opts.endsAfter === undefined
        ? this.q(
            "SELECT * FROM alert_silences WHERE project = ? AND env = ? ORDER BY created_at DESC, id DESC",
          ).all(project, env)
        : this.q(
            `SELECT * FROM alert_silences WHERE project = ? AND env = ? AND ends_at > ?
             ORDER BY created_at DESC, id DESC`,
          ).all(project, env, isoTime(opts.endsAfter))
    ) as Row[];
    return rows.map(silenceFromRow);
  }

  async setSilenceEnd(project: string, env: string, id: string, endsAt: string): Promise<boolean> {
    return (
      this.q("UPDATE alert_silences SET ends_at = ? WHERE project = ? AND env = ? AND id = ?").run(
        isoTime(endsAt),
        project,
        env,
        id,
      ).changes > 0
    );
  }

  async pruneSilences(before: string): Promise<number> {
    return this.q("DELETE FROM alert_silences WHERE ends_at < ?").run(isoTime(before)).changes;
  }
}
