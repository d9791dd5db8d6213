/**
 * Volume backups against the real Docker Engine: real named volumes, written and read by
 * containers of the offline test image (slipway-test/busybox), located by the real
 * dockerVolumeLocator (the engine's volume inspect). The mountpoints are root-owned; the tests
 * run as root, as the provider needs (it reads the mountpoint on this machine).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { volumeProvider } from "../../src/backup/index.js";
import { runBackupProviderConformance } from "../../src/backup/provider.case.js";
import { ensureTestImages } from "../support/docker.js";
import { harness } from "./helpers.js";
import type { Harness } from "./helpers.js";

const exec = promisify(execFile);
const IMAGE = "slipway-test/busybox";
const tag = randomBytes(3).toString("hex");
const DATA = `slipway-vt-${tag}-data`;
const MEDIA = `slipway-vt-${tag}-media`;

/** Run a shell script in a throwaway container with both volumes mounted at /data and /media. */
async function inContainer(script: string): Promise<string> {
  const { stdout } = await exec(
    "docker",
    [
      "run",
      "--rm",
      "--network",
      "none",
      "-v",
      `${DATA}:/data`,
      "-v",
      `${MEDIA}:/media`,
      IMAGE,
      "sh",
      "-c",
      script,
    ],
    { timeout: 60_000 },
  );
  return stdout;
}

/** What a container sees in the volumes: every entry with type, owner, mode and content hash. */
const LISTING = `cd / && find data media | sort | while read -r f; do
  if [ -L "$f" ]; then echo "$f link -> $(readlink "$f") $(stat -c '%u:%g' "$f")";
  elif [ -d "$f" ]; then echo "$f dir $(stat -c '%u:%g %a' "$f")";
  else echo "$f file $(stat -c '%u:%g %a %s' "$f") $(md5sum < "$f" | cut -d' ' -f1)"; fi
done`;

let h: Harness;

beforeAll(async () => {
  await ensureTestImages();
  for (const v of [DATA, MEDIA])
    await exec("docker", ["volume", "create", "--label", "slipway.test=volume", v]);
  // Files owned by another uid with private modes (like a database's data directory), a nested
  // directory, a symlink and a binary file.
  await inContainer(`set -e
    mkdir -p /data/base/16384 /media/uploads
    echo 'row 1' > /data/base/16384/1259
    head -c 70000 /dev/urandom > /data/base/16384/blob
    echo 'port = 5432' > /data/postgresql.conf
    chown -R 999:999 /data/base && chmod 700 /data/base && chmod 600 /data/base/16384/1259
    ln -s postgresql.conf /data/current.conf
    echo 'cat picture' > /media/uploads/cat.jpg`);
  h = harness();
}, 180_000);

afterAll(async () => {
  h?.close();
  await exec("docker", ["volume", "rm", "-f", DATA, MEDIA]).catch(() => {});
}, 60_000);

describe("volume backups on the real Docker Engine", () => {
  test("backup → change in a container → restore → the container sees the same volumes", async () => {
    const before = await inContainer(LISTING);
    expect(before).toContain("data/base dir 999:999 700");
    expect(before).toContain("data/current.conf link -> postgresql.conf");

    const rec = await h.manager.backup({
      project: "p",
      env: "dev",
      service: "db",
      config: { type: "volume", volumes: [DATA, MEDIA] },
    });
    expect(rec.status).toBe("ok");
    expect(rec.source).toBe(`volumes ${DATA}, ${MEDIA}`);
    expect(rec.facts.manifest).toMatchObject({ files: 4, symlinks: 1 });

    await inContainer(`set -e
      echo 'port = 6543' > /data/postgresql.conf
      rm -rf /data/base/16384 /media/uploads/cat.jpg
      echo new > /media/uploads/dog.jpg
      chmod 755 /data/base`);
    const changed = await inContainer(LISTING);
    expect(changed).not.toEqual(before);

    const { stdout: mpBefore } = await exec("docker", ["volume", "inspect", "-f", "{{.Mountpoint}}", DATA]);
    await h.manager.restore(rec.id);
    expect(await inContainer(LISTING)).toEqual(before);
    // The volume is the same volume (the engine's mountpoint is untouched).
    const { stdout: mpAfter } = await exec("docker", ["volume", "inspect", "-f", "{{.Mountpoint}}", DATA]);
    expect(mpAfter).toEqual(mpBefore);

    const v = await h.manager.verify(rec.id);
    expect(v.status, v.verifyDetail).toBe("verified");
  }, 120_000);

  test("a volume the engine does not know is a clear error, recorded as failed", async () => {
    const missing = `slipway-vt-${tag}-missing`;
    await expect(
      h.manager.backup({
        project: "p",
        env: "dev",
        service: "gone",
        config: { type: "volume", volumes: [missing] },
      }),
    ).rejects.toThrow(new RegExp(`docker volume "${missing}": .*no such volume`, "i"));
    expect((await h.manager.list("p", "dev", "gone"))[0]).toMatchObject({ status: "failed" });
  }, 60_000);
});

runBackupProviderConformance("volume (real Docker volumes)", () => ({
  provider: volumeProvider(),
  config: { type: "volume", volumes: [DATA, MEDIA] },
  snapshot: () => inContainer(LISTING),
  mutate: async () => {
    await inContainer(`set -e
      echo changed > /media/uploads/cat.jpg
      rm /data/current.conf
      mkdir -p /data/extra && echo x > /data/extra/f`);
  },
}));
