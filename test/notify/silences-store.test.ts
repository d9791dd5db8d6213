/**
 * Silences live in the store: the hub writes and reads them there, an old outbox file's
 * silences are imported once, and grouping keeps the silences it read last while the store
 * cannot be read.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { NotifierHub } from "../../src/notify/hub.js";
import Database from "better-sqlite3";
import { MemorySilences } from "../../src/notify/silence-memory.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/store.js";
import { ev, harness } from "./helpers.js";
import { legacyOutboxFile, writeLegacyOutbox } from "./legacy-outbox.js";
import { startHttpReceiver } from "../support/receivers.js";

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const HOUR = 3_600_000;

/** A home with an old per-environment outbox file holding one active silence. */
function oldHome(): { home: string; file: string; id: string } {
  const home = mkdtempSync(join(tmpdir(), "slipway-silences-"));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const file = legacyOutboxFile(home);
  const db = writeLegacyOutbox(file);
  const now = Date.now();
  const id = "sil-0ld0ld0ld0ld";
  db.prepare(
    `INSERT INTO notify_silences (id, matchers, starts_at, ends_at, author, comment, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    id,
    JSON.stringify({ service: ["api"] }),
    now - HOUR,
    now + HOUR,
    "kim",
    "old maintenance",
    now - HOUR,
  );
  db.close();
  return { home, file, id };
}

async function storeIn(home: string): Promise<Store> {
  const store = await openStore({ home });
  cleanups.push(() => store.close());
  return store;
}

describe("silences in the store", () => {
  it("imports an old outbox file's silences once, and keeps the file (renamed) with its rows", async () => {
    const { home, file, id } = oldHome();
    const store = await storeIn(home);
    const hub = new NotifierHub({ home, store });
    const listed = await hub.listSilences("shop", "production");
    expect(listed.map((s) => [s.id, s.author, s.state])).toEqual([[id, "kim", "active"]]);
    expect((await store.listSilences("shop", "production")).map((s) => s.id)).toEqual([id]);

    // Expired through the hub: the store's row changes; a second hub does not import it again.
    expect((await hub.expireSilence("shop", "production", id)).state).toBe("expired");
    await hub.close();
    const again = new NotifierHub({ home, store });
    expect(await again.listSilences("shop", "production")).toEqual([]);
    expect(await again.listSilences("shop", "production", { all: true })).toHaveLength(1);
    await again.close();

    expect(existsSync(file)).toBe(false);
    const db = new Database(`${file}.imported`);
    expect(db.prepare("SELECT id FROM notify_silences").all()).toEqual([{ id }]);
    expect(db.prepare("SELECT 1 AS x FROM notify_meta WHERE key = 'silences_imported_at'").get()).toEqual({
      x: 1,
    });
    db.close();
  });

  it("a silence added through the hub is the store's, seen by another hub on the same store", async () => {
    const { home } = oldHome();
    const store = await storeIn(home);
    const hub = new NotifierHub({ home, store });
    const s = await hub.addSilence("shop", "production", {
      matchers: { severity: "warning" },
      duration: "2h",
      author: "lee",
      comment: "noisy warnings",
    });
    expect((await store.getSilence("shop", "production", s.id))?.matchers).toEqual({ severity: ["warning"] });
    const other = new NotifierHub({ home, store });
    expect((await other.listSilences("shop", "production")).map((x) => x.id)).toContain(s.id);
    await hub.close();
    await other.close();
  });

  it("lists and expires an environment's silences from the store on a machine without its outbox", async () => {
    const home = mkdtempSync(join(tmpdir(), "slipway-silences-"));
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    const store = await storeIn(home);
    const now = Date.now();
    await store.addSilence({
      id: "sil-elsewhere0001",
      project: "shop",
      env: "staging",
      matchers: { service: ["api"] },
      startsAt: new Date(now - HOUR).toISOString(),
      endsAt: new Date(now + HOUR).toISOString(),
      author: "kim",
      comment: "added on another machine",
      createdAt: new Date(now - HOUR).toISOString(),
    });
    const hub = new NotifierHub({ home, store });
    expect((await hub.listSilences("shop", "staging")).map((s) => s.id)).toEqual(["sil-elsewhere0001"]);
    expect((await hub.expireSilence("shop", "staging", "sil-elsewhere0001")).state).toBe("expired");
    expect(await hub.listSilences("shop", "staging")).toEqual([]);
    await expect(hub.expireSilence("shop", "staging", "sil-nope")).rejects.toThrow(/no silence "sil-nope"/);
    await hub.close();
  });

  it("while the store cannot be read, grouping uses the silences it read last", async () => {
    const recv = await startHttpReceiver();
    cleanups.push(() => recv.close());
    const silences = new MemorySilences();
    const h = harness({ channels: { hook: { type: "webhook", url: recv.url } }, groupWait: 0 }, { silences });
    cleanups.push(() => h.close());
    await h.notifier.addSilence({
      matchers: { service: "api" },
      duration: "1h",
      author: "kim",
      comment: "m",
    });
    await h.notifier.emit(ev({ kind: "deploy.failed", service: "api", message: "held" }));
    await h.notifier.flush();
    expect(recv.requests).toHaveLength(0);

    // The store goes away: the silence read before still holds, other alerts still go out.
    silences.listSilences = () => Promise.reject(new Error("connection refused"));
    h.notifier.emit(ev({ kind: "deploy.failed", service: "api", message: "still held" }));
    h.notifier.emit(ev({ kind: "deploy.failed", service: "web", message: "web failed" }));
    await h.notifier.flush();
    const messages = recv.requests.flatMap((q) =>
      (JSON.parse(q.body) as { alerts: { message: string }[] }).alerts.map((a) => a.message),
    );
    expect(messages).toEqual(["web failed"]);
    expect(h.logs.some((l) => /could not read silences/.test(l.msg))).toBe(true);
  });
});
