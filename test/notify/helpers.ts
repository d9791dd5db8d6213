import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Notifier } from "../../src/notify/index.js";
import type { AlertEvent, NotifierOptions, NotifyStore } from "../../src/notify/index.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { alertsSchema } from "../../src/spec/schema-alerts.js";
import type { AlertsInput } from "../../src/spec/schema-alerts.js";
import { recordingLogger } from "../support/logger.js";
import type { LogLine } from "../support/logger.js";

export interface Harness {
  notifier: Notifier;
  /** The store the notifier's outbox and silences live in (a SQLite store in `dir` unless given). */
  store: NotifyStore;
  dir: string;
  logs: LogLine[];
  close(): Promise<void>;
}

/**
 * A started Notifier for shop/production, its outbox and silences in a fresh SQLite store in a
 * temp dir (or in `opts.store`), with a logger that records.
 */
export function harness(config: AlertsInput, opts: Partial<NotifierOptions> = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), "slipway-notify-"));
  const own = opts.store ? undefined : SqliteStore.open({ home: dir });
  const store = opts.store ?? (own as SqliteStore);
  const logger = recordingLogger();
  const logs = logger.lines;
  const notifier = new Notifier({
    project: "shop",
    env: "production",
    config: alertsSchema.parse(config),
    logger,
    retry: { initialMs: 50, maxMs: 400 },
    ...opts,
    store,
  });
  notifier.start();
  return {
    notifier,
    store,
    dir,
    logs,
    async close() {
      await notifier.stop();
      await own?.close();
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
