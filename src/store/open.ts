/**
 * The one factory that picks the store implementation (DESIGN §3: nothing else imports a
 * concrete store). PostgreSQL when a database URL is given, else SQLite under `home`.
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Logger } from "../logger.js";
import { PostgresStore } from "./postgres/postgres-store.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

export interface OpenStoreOptions {
  /** SLIPWAY_HOME: where the SQLite file (and other local state) lives. */
  home: string;
  /** SLIPWAY_DATABASE_URL: use PostgreSQL instead of SQLite. */
  databaseUrl?: string;
  logger?: Logger;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  if (opts.databaseUrl) return PostgresStore.open({ url: opts.databaseUrl, logger: opts.logger });
  return SqliteStore.open({ home: opts.home, logger: opts.logger });
}

/** SLIPWAY_HOME, or ~/.slipway. */
export function slipwayHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.SLIPWAY_HOME ? resolve(env.SLIPWAY_HOME) : join(homedir(), ".slipway");
}

/** The store options the environment asks for (SLIPWAY_HOME, SLIPWAY_DATABASE_URL). */
export function storeOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): OpenStoreOptions {
  const databaseUrl = env.SLIPWAY_DATABASE_URL?.trim();
  return { home: slipwayHome(env), ...(databaseUrl ? { databaseUrl } : {}) };
}
