import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Notifier } from "../../src/notify/index.js";
import type { AlertEvent, NotifierOptions } from "../../src/notify/index.js";
import { openNotifyDb } from "../../src/notify/outbox.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Db } from "../../src/notify/outbox.js";
import { alertsSchema } from "../../src/spec/schema-alerts.js";
import type { AlertsInput } from "../../src/spec/schema-alerts.js";
import { recordingLogger } from "../support/logger.js";
import type { LogLine } from "../support/logger.js";

export interface Harness {
  notifier: Notifier;
  db: Db;
  /** The store the notifier's silences live in (a SQLite store in `dir`). */
  store: SqliteStore;
  dir: string;
  file: string;
  logs: LogLine[];
  close(): Promise<void>;
}

/**
 * A started Notifier on a fresh SQLite outbox file in a temp dir, its silences in a SQLite
 * store beside it (shop/production), with a logger that records.
 */
export function harness(config: AlertsInput, opts: Partial<NotifierOptions> = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), "slipway-notify-"));
  const file = join(dir, "notify.db");
  const db = openNotifyDb(file);
  const store = SqliteStore.open({ home: dir });
  const logger = recordingLogger();
  const logs = logger.lines;
  const notifier = new Notifier({
    db,
    config: alertsSchema.parse(config),
    silences: { store, project: "shop", env: "production" },
    logger,
    retry: { initialMs: 50, maxMs: 400 },
    ...opts,
  });
  notifier.start();
  return {
    notifier,
    db,
    store,
    dir,
    file,
    logs,
    async close() {
      await notifier.stop();
      db.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function ev(partial: Partial<AlertEvent> & Pick<AlertEvent, "kind">): AlertEvent {
  return {
    project: "shop",
    env: "production",
    severity: "critical",
    message: `${partial.kind} happened`,
    ...partial,
  };
}
