/**
 * The BackupProvider conformance suite: every provider runs it against a real server or real
 * files (test/backup/*.test.ts). It speaks to the provider directly, not through the manager:
 * what it checks is the contract itself — a dump restores to the same data, and `check` tells
 * a good artifact from a damaged one.
 */
import {
  copyFileSync,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { finished } from "node:stream/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "../logger.js";
import type { BackupConfig, BackupFacts, BackupProvider, ProviderContext } from "./provider.js";
import { stagedRestore } from "./provider.js";

export interface ProviderFixture {
  provider: BackupProvider;
  /** Where the data lives (the suite's source and restore target). */
  config: BackupConfig;
  /** The live data as comparable text: equal before a change and after the restore. */
  snapshot(): Promise<string>;
  /** Change the live data: rows/keys/files changed, added and removed. */
  mutate(): Promise<void>;
  /**
   * Set when the fixture's data takes the provider's in-place fallback (a MariaDB schema with
   * views): the restore is all or nothing per statement only, and a swap cannot be undone.
   */
  inPlace?: true;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Damage an artifact the way disks and interrupted copies do. */
const DAMAGE: Record<string, (file: string) => void> = {
  "one byte flipped in the middle": (file) => {
    const b = readFileSync(file);
    const i = Math.floor(b.length / 2);
    b[i] = b[i] ^ 0xff;
    writeFileSync(file, b);
  },
  "cut in half": (file) => truncateSync(file, Math.floor(readFileSync(file).length / 2)),
};

export function runBackupProviderConformance(name: string, fixture: () => ProviderFixture): void {
  describe(`BackupProvider conformance: ${name}`, () => {
    let dir: string;
    let artifact: string;
    let facts: BackupFacts;
    let n = 0;
    const ctx = (): ProviderContext => {
      const workDir = mkdtempSync(join(dir, "work-"));
      return { logger: silent, workDir, token: `c${process.pid}x${++n}` };
    };

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "slipway-provider-case-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("round trip: back up, change the data, restore, the data is back", async () => {
      const f = fixture();
      const before = await f.snapshot();
      artifact = join(dir, `artifact.${f.provider.extension}`);
      const sink = createWriteStream(artifact);
      facts = await f.provider.dump(f.config, sink, ctx());
      await finished(sink);
      expect(typeof facts).toBe("object");
      expect(readFileSync(artifact).length).toBeGreaterThan(0);
      expect(f.provider.describe(f.config)).not.toBe("");

      await f.mutate();
      expect(await f.snapshot()).not.toBe(before);

      await stagedRestore(f.provider, f.config, artifact, { ...ctx(), file: artifact });
      expect(await f.snapshot()).toBe(before);
    });

    // Restores are staged and swapped (issue 11, item 10): a crash at any point leaves one side.
    it("a restore cut after its stage leaves the live data; settle(old) drops the staging", async () => {
      const f = fixture();
      await f.mutate();
      const changed = await f.snapshot();
      const c = { ...ctx(), file: artifact };
      await f.provider.stage(f.config, artifact, c);
      expect(await f.provider.settle(f.config, c, "old")).toBe("old");
      expect(await f.snapshot()).toBe(changed);
      // Settling again finds nothing left.
      expect(await f.provider.settle(f.config, c, "old")).toBe("old");
    });

    it("a swapped restore can be undone (settle old) or finished (settle new)", async () => {
      // The data is still changed (the test above kept the old side).
      const f = fixture();
      const changed = await f.snapshot();
      const c = { ...ctx(), file: artifact };
      await f.provider.stage(f.config, artifact, c);
      await f.provider.swap(f.config, c);
      if (f.inPlace) {
        // Nothing was set aside: the backup's data stays live (the engine's journal says so).
        await f.provider.settle(f.config, c, "old");
        expect(await f.snapshot()).not.toBe(changed);
        return;
      }
      expect(await f.provider.settle(f.config, c, "old")).toBe("old");
      expect(await f.snapshot()).toBe(changed);
      const d = { ...ctx(), file: artifact };
      await f.provider.stage(f.config, artifact, d);
      expect(await f.provider.settle(f.config, d, "new")).toBe("new");
      const restored = await f.snapshot();
      expect(restored).not.toBe(changed);
      await f.provider.swap(f.config, ctx()).catch(() => {});
      expect(await f.snapshot()).toBe(restored);
    });

    it("check accepts the intact artifact against its facts", async () => {
      const f = fixture();
      const r = await f.provider.check(f.config, artifact, facts, ctx());
      expect(r.ok, r.detail).toBe(true);
      expect(r.detail).not.toBe("");
    });

    for (const [how, damage] of Object.entries(DAMAGE)) {
      it(`check detects a damaged artifact (${how})`, async () => {
        const f = fixture();
        const damaged = join(dir, `damaged-${how.replace(/\W+/g, "-")}.${f.provider.extension}`);
        copyFileSync(artifact, damaged);
        damage(damaged);
        const r = await f.provider.check(f.config, damaged, facts, ctx()).catch((e: unknown) => ({
          ok: false,
          detail: (e as Error).message,
        }));
        expect(r.ok, `a damaged artifact passed: ${r.detail}`).toBe(false);
      });
    }
  });
}
