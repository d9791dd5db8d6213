/**
 * Docker volumes on the local engine: the volume's mountpoint (from the engine's volume
 * inspect) archived like files, one tar.gz holding every volume under its own name.
 *
 * Restore extracts each volume beside its mountpoint and swaps the directories by rename
 * (tree-swap.ts: the engine finds the same path, now holding the restored tree); stop the
 * containers using the volume first, as a bind mount keeps pointing at the directory it opened. Remote engines are not supported: the
 * mountpoint must be readable from this machine.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";
import { OperationFailed } from "../errors.js";
import { run } from "./exec.js";
import { tarCheck, tarDump } from "./files.js";
import type { BackupConfig, BackupProvider, RestoreSide } from "./provider.js";
import { settleTree, stageTree, swapTree } from "./tree-swap.js";

/** Where a volume's data lives on this machine. */
export interface VolumeLocator {
  mountpoint(volume: string): Promise<string>;
}

/** The local Docker engine (DOCKER_HOST or /var/run/docker.sock). */
export function dockerVolumeLocator(socketPath?: string): VolumeLocator {
  const docker = socketPath ? new Docker({ socketPath }) : new Docker();
  return {
    async mountpoint(volume) {
      try {
        const info = (await docker.getVolume(volume).inspect()) as { Mountpoint?: string };
        if (!info.Mountpoint) throw new Error("the engine reported no mountpoint");
        return info.Mountpoint;
      } catch (e) {
        throw new OperationFailed(
          `docker volume "${volume}": ${e instanceof Error ? e.message : String(e)} (is the Docker engine running?)`,
        );
      }
    },
  };
}

function names(config: BackupConfig): string[] {
  const v = config.volumes ?? [];
  if (!v.length) throw new OperationFailed("volume backup: no volumes configured");
  for (const n of v)
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(n))
      throw new OperationFailed(`volume backup: bad volume name "${n}"`);
  return v;
}

export function volumeProvider(locator: VolumeLocator = dockerVolumeLocator()): BackupProvider {
  return {
    type: "volume",
    extension: "tar.gz",

    describe(config) {
      return `volumes ${(config.volumes ?? []).join(", ")}`;
    },

    async dump(config, sink, ctx) {
      // Symlink each mountpoint under its volume name so the archive holds "name/…" members.
      const stage = join(ctx.workDir, "volumes");
      mkdirSync(stage, { recursive: true, mode: 0o700 });
      const vols = names(config);
      for (const v of vols) {
        const mp = await locator.mountpoint(v);
        await run("ln", ["-s", mp, join(stage, v)]);
      }
      // --dereference only on the command-line members (-H): the links inside volumes are kept.
      const manifest = await tarDump(
        stage,
        vols.map((v) => `${v}/.`),
        sink,
        ctx,
      );
      return { volumes: vols, manifest };
    },

    async stage(config, file, ctx) {
      for (const v of names(config)) {
        ctx.logger.info("staging volume", { volume: v });
        await stageTree(file, `${v}/.`, await locator.mountpoint(v), ctx.token, v);
      }
    },

    async swap(config, ctx) {
      for (const v of names(config)) swapTree(await locator.mountpoint(v), ctx.token);
    },

    async settle(config, ctx, want) {
      let side: RestoreSide = want;
      for (const v of names(config)) side = settleTree(await locator.mountpoint(v), ctx.token, want);
      return side;
    },

    async check(config, file, facts, ctx) {
      const vols = (facts.volumes as string[] | undefined) ?? names(config);
      return tarCheck(file, vols, facts, ctx);
    },
  };
}
