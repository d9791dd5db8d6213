/** Users, API tokens and sessions in the SQLite store (tables from migration 0003). */
import type Database from "better-sqlite3";
import { StoreError } from "../errors.js";
import {
  SESSION_COLUMNS,
  TOKEN_COLUMNS,
  USER_COLUMNS,
  isoTime,
  sessionFromRow,
  sessionValues,
  tokenFromRow,
  tokenValues,
  userFromRow,
  userValues,
} from "../user-rows.js";
import type { AuthStore, SessionRecord, TokenRecord, UserRecord } from "../users.js";

type Row = Record<string, unknown>;
const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ");

export class SqliteUsers implements AuthStore {
  constructor(private readonly q: (sql: string) => Database.Statement) {}

  async putUser(u: UserRecord): Promise<void> {
    this.q(
      `INSERT OR REPLACE INTO users (${USER_COLUMNS.join(", ")}) VALUES (${placeholders(USER_COLUMNS.length)})`,
    ).run(...userValues(u));
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    const r = this.q("SELECT * FROM users WHERE name = ?").get(name) as Row | undefined;
    return r && userFromRow(r);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (this.q("SELECT * FROM users ORDER BY name").all() as Row[]).map(userFromRow);
  }

  async removeUser(name: string): Promise<boolean> {
    this.q("DELETE FROM sessions WHERE user_name = ?").run(name);
    return this.q("DELETE FROM users WHERE name = ?").run(name).changes > 0;
  }

  async addToken(t: TokenRecord): Promise<void> {
    try {
      this.q(
        `INSERT INTO api_tokens (${TOKEN_COLUMNS.join(", ")}) VALUES (${placeholders(TOKEN_COLUMNS.length)})`,
      ).run(...tokenValues(t));
    } catch (e) {
      if ((e as { code?: string }).code?.startsWith("SQLITE_CONSTRAINT"))
        throw new StoreError(`a token named "${t.name}" already exists`);
      throw e;
    }
  }

  async tokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const r = this.q("SELECT * FROM api_tokens WHERE hash = ?").get(hash) as Row | undefined;
    return r && tokenFromRow(r);
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (this.q("SELECT * FROM api_tokens ORDER BY name").all() as Row[]).map(tokenFromRow);
  }

  async revokeToken(idOrName: string): Promise<boolean> {
    return this.q("DELETE FROM api_tokens WHERE id = ? OR name = ?").run(idOrName, idOrName).changes > 0;
  }

  async touchToken(id: string, at: string): Promise<void> {
    this.q("UPDATE api_tokens SET last_used_at = ? WHERE id = ?").run(isoTime(at), id);
  }

  async addSession(s: SessionRecord): Promise<void> {
    this.q(
      `INSERT INTO sessions (${SESSION_COLUMNS.join(", ")}) VALUES (${placeholders(SESSION_COLUMNS.length)})`,
    ).run(...sessionValues(s));
  }

  async sessionByHash(hash: string): Promise<SessionRecord | undefined> {
    const r = this.q("SELECT * FROM sessions WHERE hash = ?").get(hash) as Row | undefined;
    return r && sessionFromRow(r);
  }

  async removeSession(hash: string): Promise<boolean> {
    return this.q("DELETE FROM sessions WHERE hash = ?").run(hash).changes > 0;
  }

  async pruneSessions(before: string): Promise<number> {
    return this.q("DELETE FROM sessions WHERE expires_at < ?").run(isoTime(before)).changes;
  }
}
