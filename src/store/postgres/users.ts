/** Users, API tokens and sessions in the PostgreSQL store (tables from migration 0003). */
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
type Query = (sql: string, params?: unknown[]) => Promise<Row[]>;
type Exec = (sql: string, params?: unknown[]) => Promise<number>;
const params = (n: number) => Array.from({ length: n }, (_, i) => `$${i + 1}`).join(", ");

export class PostgresUsers implements AuthStore {
  constructor(
    private readonly q: Query,
    private readonly exec: Exec,
  ) {}

  async putUser(u: UserRecord): Promise<void> {
    const updates = USER_COLUMNS.filter((c) => c !== "name")
      .map((c) => `${c} = EXCLUDED.${c}`)
      .join(", ");
    await this.q(
      `INSERT INTO users (${USER_COLUMNS.join(", ")}) VALUES (${params(USER_COLUMNS.length)})
       ON CONFLICT (name) DO UPDATE SET ${updates}`,
      userValues(u),
    );
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    const [r] = await this.q("SELECT * FROM users WHERE name = $1", [name]);
    return r && userFromRow(r);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.q(`SELECT * FROM users ORDER BY name COLLATE "C"`)).map(userFromRow);
  }

  async removeUser(name: string): Promise<boolean> {
    await this.exec("DELETE FROM sessions WHERE user_name = $1", [name]);
    return (await this.exec("DELETE FROM users WHERE name = $1", [name])) > 0;
  }

  async addToken(t: TokenRecord): Promise<void> {
    try {
      await this.q(
        `INSERT INTO api_tokens (${TOKEN_COLUMNS.join(", ")}) VALUES (${params(TOKEN_COLUMNS.length)})`,
        tokenValues(t),
      );
    } catch (e) {
      if ((e as { code?: string }).code === "23505")
        throw new StoreError(`a token named "${t.name}" already exists`);
      throw e;
    }
  }

  async tokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const [r] = await this.q("SELECT * FROM api_tokens WHERE hash = $1", [hash]);
    return r && tokenFromRow(r);
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (await this.q(`SELECT * FROM api_tokens ORDER BY name COLLATE "C"`)).map(tokenFromRow);
  }

  async revokeToken(idOrName: string): Promise<boolean> {
    return (await this.exec("DELETE FROM api_tokens WHERE id = $1 OR name = $1", [idOrName])) > 0;
  }

  async touchToken(id: string, at: string): Promise<void> {
    await this.exec("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1", [id, isoTime(at)]);
  }

  async addSession(s: SessionRecord): Promise<void> {
    await this.q(
      `INSERT INTO sessions (${SESSION_COLUMNS.join(", ")}) VALUES (${params(SESSION_COLUMNS.length)})`,
      sessionValues(s),
    );
  }

  async sessionByHash(hash: string): Promise<SessionRecord | undefined> {
    const [r] = await this.q("SELECT * FROM sessions WHERE hash = $1", [hash]);
    return r && sessionFromRow(r);
  }

  async removeSession(hash: string): Promise<boolean> {
    return (await this.exec("DELETE FROM sessions WHERE hash = $1", [hash])) > 0;
  }

  async pruneSessions(before: string): Promise<number> {
    return this.exec("DELETE FROM sessions WHERE expires_at < $1", [isoTime(before)]);
  }
}
