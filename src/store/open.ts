/**
 * The one factory that picks the store implementation (DESIGN §3: nothing else imports a
 * concrete store). PostgreSQL when a database URL is given, else SQLite under `home`.
 */
import type { Logger } from "../logger.js";
import { slipwayHome } from "../util/home.js";
import { importLegacyCatalog } from "./legacy.js";
import type { Store } from "./store.js";

export interface OpenStoreOptions {
  /** SLIPWAY_HOME: where the SQLite file (and other local state) lives. */
  home: string;
  /** SLIPWAY_DATABASE_URL: use PostgreSQL instead of SQLite. */
  databaseUrl?: string;
  logger?: Logger;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const store = await openImplementation(opts);
  try {
    await importLegacyCatalog(store, opts.home, opts.logger);
  } catch (e) {
    // The old file stays where it is; the next open tries again.
    opts.logger?.warn("could not import the old backup catalog", { error: (e as Error).message });
  }
  return store;
}

async function openImplementation(opts: OpenStoreOptions): Promise<Store> {
  // Loaded on demand: `pg` and the native SQLite binding are not free at start-up.
  if (opts.databaseUrl) {
    const { PostgresStore } = await import("./postgres/postgres-store.js");
    return PostgresStore.open({ url: opts.databaseUrl, logger: opts.logger });
  }
  const { SqliteStore } = await import("./sqlite/sqlite-store.js");
  return SqliteStore.open({ home: opts.home, logger: opts.logger });
}

export { slipwayHome };

/** The store options the environment asks for (SLIPWAY_HOME, SLIPWAY_DATABASE_URL). */
export function storeOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): OpenStoreOptions {
  const databaseUrl = env.SLIPWAY_DATABASE_URL?.trim();
  return { home: slipwayHome(env), ...(databaseUrl ? { databaseUrl } : {}) };
}
