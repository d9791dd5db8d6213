/** Upgrading: a backup catalog kept in its own file is imported into the store once. */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open.js";
import { LEGACY_IDS, writeLegacyCatalog } from "./legacy-catalog.js";

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("the old backup catalog (backups/catalog.db)", () => {
  it("is imported into the store on first open, field for field, then renamed", async () => {
    const home = mkdtempSync(join(tmpdir(), "slipway-legacy-"));
    temps.push(home);
    const file = writeLegacyCatalog(home);
    const store = await openStore({ home });
    try {
      const list = await store.listBackups("shop", "production", "db");
      expect(list.map((r) => r.id)).toEqual([...LEGACY_IDS].reverse());
      expect(await store.getBackup(LEGACY_IDS[0])).toEqual({
        id: LEGACY_IDS[0],
        project: "shop",
        env: "production",
        service: "db",
        revision: 4,
        type: "postgres",
        status: "verified",
        source: "postgres://app:***@db/shop",
        startedAt: "2024-05-01T10:00:00.000Z",
        finishedAt: "2024-05-01T10:00:03.000Z",
        size: 2048,
        sha256: "abc123",
        location: "/x/a.dump",
        key: "shop/production/db/a.dump",
        facts: { tables: { orders: 12 } },
        config: { type: "postgres", url: "postgres://app@db/shop" },
        verifiedAt: "2024-05-01T11:00:00.000Z",
        verifyDetail: "restored: 12 rows",
      });
      expect((await store.getBackup(LEGACY_IDS[1]))?.error).toBe("pg_dump: connection refused");
      expect(existsSync(file)).toBe(false);
      expect(existsSync(`${file}.imported`)).toBe(true);
      // A record changed in the store since is not overwritten by a second import.
      await store.putBackup({ ...(await store.getBackup(LEGACY_IDS[1]))!, status: "corrupt" });
    } finally {
      await store.close();
    }
    writeLegacyCatalog(home);
    const again = await openStore({ home });
    try {
      expect((await again.getBackup(LEGACY_IDS[1]))?.status).toBe("corrupt");
      expect(await again.listBackups("shop", "production")).toHaveLength(2);
    } finally {
      await again.close();
    }
  });
});
