import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { volumeProvider } from "../../src/backup/index.js";
import { filesProvider, manifestFromListing } from "../../src/backup/files.js";
import { runBackupProviderConformance } from "../../src/backup/provider.case.js";

import type { VolumeLocator } from "../../src/backup/index.js";
import { corrupt, harness } from "./helpers.js";
import type { Harness } from "./helpers.js";

let dir: string;
let h: Harness;

/** Relative path → content (or "-> target" for symlinks), for whole-tree comparisons. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) out[p] = "symlink";
      else if (e.isDirectory()) {
        out[`${p}/`] = "";
        walk(p);
      } else out[p] = readFileSync(join(root, p), "utf8");
    }
  };
  walk("");
  return out;
}

function populate(root: string): void {
  mkdirSync(join(root, "uploads/2024 photos"), { recursive: true });
  writeFileSync(join(root, "uploads/a.txt"), "alpha");
  writeFileSync(join(root, "uploads/2024 photos/b c.bin"), "x".repeat(10_000));
  symlinkSync("a.txt", join(root, "uploads/latest"));
  writeFileSync(join(root, "config.json"), '{"v":1}');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "slipway-files-"));
  populate(dir);
  h = harness();
});

afterAll(() => {
  h?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("files backups (tar + gzip)", () => {
  let id: string;

  test("backup → change files → restore → tree equal (new files gone, deleted ones back)", async () => {
    const before = tree(dir);
    const rec = await h.manager.backup({
      project: "p",
      env: "dev",
      service: "uploads",
      config: { type: "files", paths: ["uploads", "config.json"] },
      baseDir: dir,
    });
    id = rec.id;
    expect(rec.status).toBe("ok");
    expect(rec.facts.manifest).toMatchObject({ files: 3, dirs: 2, symlinks: 1, bytes: 10_012 });

    writeFileSync(join(dir, "uploads/a.txt"), "changed");
    writeFileSync(join(dir, "uploads/new.txt"), "new");
    rmSync(join(dir, "uploads/2024 photos"), { recursive: true });
    writeFileSync(join(dir, "config.json"), "{}");
    expect(tree(dir)).not.toEqual(before);

    await h.manager.restore(id);
    expect(tree(dir)).toEqual(before);
    expect(readdirSync(dir).filter((n) => n.startsWith(".slipway-restore"))).toEqual([]);
  });

  test("verify extracts to a scratch directory and compares the manifest", async () => {
    const rec = await h.manager.verify(id);
    expect(rec.status).toBe("verified");
    expect(rec.verifyDetail).toBe("extracted to a scratch directory: 3 files, 10012 bytes match");
  });

  test("a missing path fails the backup and says which", async () => {
    await expect(
      h.manager.backup({
        project: "p",
        env: "dev",
        service: "uploads",
        config: { type: "files", paths: [join(dir, "nope")] },
      }),
    ).rejects.toThrow(/failed: tar exited with status 2: .*nope: Cannot stat: No such file or directory/);
    expect(readdirSync(join(h.home, "backups/.work"))).toEqual([]);
  });

  test("a backup file deleted behind Slipway's back is reported by verify", async () => {
    const rec = await h.manager.backup({
      project: "p",
      env: "dev",
      service: "uploads",
      config: { type: "files", paths: [join(dir, "config.json")] },
    });
    rmSync(rec.location!);
    const checked = await h.manager.verify(rec.id);
    expect(checked.status).toBe("corrupt");
    expect(checked.error).toMatch(/backup file is missing/);
  });
});

describe("volume backups", () => {
  // The archive mechanics on plain directories (symlinks, the swap by rename): a locator mapping names
  // to directories. docker-volume.test.ts runs the same path on real Docker volumes with the
  // real dockerVolumeLocator.
  let vols: string;
  const locator: VolumeLocator = { mountpoint: async (v) => join(vols, v, "_data") };

  test("backup → change → restore → contents equal, swapped in at the mountpoint's path", async () => {
    vols = mkdtempSync(join(tmpdir(), "slipway-volumes-"));
    try {
      for (const v of ["pgdata", "media"]) {
        mkdirSync(join(vols, v, "_data"), { recursive: true });
        populate(join(vols, v, "_data"));
      }
      const hv = harness({ providers: { volume: volumeProvider(locator) } });
      try {
        const before = { pgdata: tree(join(vols, "pgdata/_data")), media: tree(join(vols, "media/_data")) };
        const rec = await hv.manager.backup({
          project: "p",
          env: "dev",
          service: "db",
          config: { type: "volume", volumes: ["pgdata", "media"] },
        });
        expect(rec.facts.manifest).toMatchObject({ files: 6, symlinks: 2 });
        writeFileSync(join(vols, "pgdata/_data/uploads/a.txt"), "changed");
        writeFileSync(join(vols, "media/_data/extra"), "x");
        const inode = statSync(join(vols, "pgdata/_data")).ino;
        await hv.manager.restore(rec.id);
        // A new directory renamed into place (staged beside it), nothing left beside it.
        expect(statSync(join(vols, "pgdata/_data")).ino).not.toBe(inode);
        expect(readdirSync(join(vols, "pgdata"))).toEqual(["_data"]);
        expect({ pgdata: tree(join(vols, "pgdata/_data")), media: tree(join(vols, "media/_data")) }).toEqual(
          before,
        );
        expect((await hv.manager.verify(rec.id)).status).toBe("verified");
      } finally {
        hv.close();
      }
    } finally {
      rmSync(vols, { recursive: true, force: true });
    }
  });
});

describe("release snapshots", () => {
  test("the resolved spec and images round-trip as JSON", async () => {
    const rec = await h.manager.backupRelease({
      project: "p",
      env: "prod",
      revision: 12,
      spec: { services: { api: { image: "api:1.4.2", env: { JWT_SECRET: "${JWT_SECRET}" } } } },
      images: { api: "registry.example.com/api:1.4.2" },
    });
    expect(rec.type).toBe("release");
    expect(rec.service).toBe("_release");
    const snap = await h.manager.readRelease(rec.id);
    expect(snap).toMatchObject({
      format: "slipway-release/1",
      revision: 12,
      images: { api: "registry.example.com/api:1.4.2" },
    });
    expect((await h.manager.verify(rec.id)).status).toBe("verified");
    await corrupt(rec.location!);
    await expect(h.manager.readRelease(rec.id)).rejects.toThrow(/is corrupt: checksum mismatch/);
  });
});

describe("tar listing", () => {
  test("the padding tar puts after a shorter --full-time stamp is not part of the name", () => {
    // GNU tar pads the time column to the widest stamp so far: 19:48:56.45746935 is one digit short.
    const padded = [
      "drwxr-xr-x root/root         0 2026-12-01 19:48:56.451524495 vol/./",
      "drwxr-xr-x root/root         0 2026-12-01 19:48:56.45746935  vol/./2024 photos/",
      "-rw-r--r-- root/root        12 2026-12-01 19:48:56.4574693   vol/./2024 photos/b c.bin",
    ].join("\n");
    const plain = [
      "drwxr-xr-x root/root         0 2026-12-01 19:48 vol/./",
      "drwxr-xr-x root/root         0 2026-12-01 19:48 vol/./2024 photos/",
      "-rw-r--r-- root/root        12 2026-12-01 19:48 vol/./2024 photos/b c.bin",
    ].join("\n");
    const m = manifestFromListing(padded);
    expect(m).toEqual(manifestFromListing(plain));
    expect(m).toMatchObject({ entries: 3, files: 1, dirs: 2, bytes: 12 });
  });
});

describe("prune against real files", () => {
  test("keeps the newest verified backup and deletes the files of the pruned ones", async () => {
    const hp = harness();
    try {
      const cfg = { type: "files" as const, paths: [join(dir, "config.json")] };
      const a = await hp.manager.backup({ project: "p", env: "dev", service: "s", config: cfg });
      await hp.manager.verify(a.id);
      const b = await hp.manager.backup({ project: "p", env: "dev", service: "s", config: cfg });
      const c = await hp.manager.backup({ project: "p", env: "dev", service: "s", config: cfg });
      const removed = await hp.manager.prune("p", "dev", "s", { keepLast: 1 });
      expect(removed.map((r) => r.id)).toEqual([b.id]);
      expect(existsSync(b.location!)).toBe(false);
      expect((await hp.manager.list("p", "dev", "s")).map((r) => r.id)).toEqual([c.id, a.id]);
      expect(existsSync(a.location!) && existsSync(c.location!)).toBe(true);
    } finally {
      hp.close();
    }
  });

  test("a protected backup (recorded by a revision still a rollback target) keeps its file", async () => {
    const hp = harness();
    try {
      const cfg = { type: "files" as const, paths: [join(dir, "config.json")] };
      const a = await hp.manager.backup({ project: "p", env: "dev", service: "s", config: cfg });
      const b = await hp.manager.backup({ project: "p", env: "dev", service: "s", config: cfg });
      const c = await hp.manager.backup({ project: "p", env: "dev", service: "s", config: cfg });
      const removed = await hp.manager.prune("p", "dev", "s", { keepLast: 1, protect: new Set([a.id]) });
      expect(removed.map((r) => r.id)).toEqual([b.id]);
      expect((await hp.manager.list("p", "dev", "s")).map((r) => r.id)).toEqual([c.id, a.id]);
      expect(existsSync(a.location!)).toBe(true);
      expect(existsSync(b.location!)).toBe(false);
      // Still restorable: the file and its checksum are intact.
      await hp.manager.restore(a.id);
    } finally {
      hp.close();
    }
  });
});

describe("crash recovery", () => {
  test("a backup left running by a dead process is marked failed and its work files removed", async () => {
    const hc = harness();
    try {
      const rec = await hc.manager.backup({
        project: "p",
        env: "dev",
        service: "s",
        config: { type: "files", paths: [join(dir, "config.json")] },
      });
      // What a crash mid-backup leaves behind: a running row and a partial file.
      hc.db
        .prepare("UPDATE backup_records SET status = 'running', finished_at = NULL WHERE id = ?")
        .run(rec.id);
      writeFileSync(join(hc.home, "backups/.work", `${rec.id}.partial`), "half");
      const fixed = await hc.manager.markInterrupted();
      expect(fixed.map((r) => [r.id, r.status])).toEqual([[rec.id, "failed"]]);
      expect((await hc.manager.get(rec.id))?.error).toMatch(/interrupted/);
      expect(readdirSync(join(hc.home, "backups/.work"))).toEqual([]);
    } finally {
      hc.close();
    }
  });
});

runBackupProviderConformance("files", () => ({
  provider: filesProvider,
  config: { type: "files", paths: [join(dir, "uploads"), join(dir, "config.json")] },
  snapshot: async () => JSON.stringify(tree(dir)),
  mutate: async () => {
    writeFileSync(join(dir, "uploads/a.txt"), "changed again");
    writeFileSync(join(dir, "uploads/extra.txt"), "extra");
    rmSync(join(dir, "uploads/latest"));
  },
}));
