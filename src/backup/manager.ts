/**
 * BackupManager: the one entry point the engine, the CLI and the scheduler use. It names each
 * backup, streams the provider's output through a SHA-256 into a work file, hands the file to
 * the storage, and keeps the catalog; restore and verify check the checksum first.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { OperationFailed, UsageError, errorMessage } from "../errors.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import { BackupCatalog } from "./catalog.js";
import type { BackupRecord } from "./catalog.js";
import { privateWriteStream, scrub } from "./exec.js";
import { filesProvider } from "./files.js";
import { mysqlProvider } from "./mysql.js";
import { postgresProvider } from "./postgres.js";
import type {
  BackupConfig,
  BackupFacts,
  BackupProvider,
  BackupType,
  ProviderContext,
  RestoreSide,
} from "./provider.js";
import { stagedRestore } from "./provider.js";
import { redisProvider } from "./redis.js";
import { selectForPruning } from "./retention.js";
import type { Retention } from "./retention.js";
import { LocalStorage } from "./storage.js";
import type { BackupStorage } from "./storage.js";
import { volumeProvider } from "./volume.js";
import {
  Digest,
  normalizeType,
  newRestoreToken,
  recordable,
  releaseProvider,
  restorable,
  RELEASE_SERVICE,
  secretsOf,
  sha256File,
  stamp,
} from "./artifact.js";
import {
  BackupNotFound,
  type BackupManagerOptions,
  type BackupRequest,
  type ReleaseBackupRequest,
  type ReleaseSnapshot,
  type RestoreOptions,
  type RestorePhase,
  type SettleOptions,
} from "./requests.js";

export { BackupNotFound, newRestoreToken, sha256File };
export type {
  BackupManagerOptions,
  BackupRequest,
  ReleaseBackupRequest,
  ReleaseSnapshot,
  RestoreOptions,
  RestorePhase,
  SettleOptions,
};

export class BackupManager {
  private readonly catalog: BackupCatalog;
  private readonly storage: BackupStorage;
  private readonly logger: Logger;
  private readonly providers: Partial<Record<BackupType, BackupProvider>>;

  constructor(opts: BackupManagerOptions) {
    this.catalog = new BackupCatalog(opts.store);
    this.storage = opts.storage ?? new LocalStorage(join(opts.home, "backups"));
    this.logger = opts.logger ?? silentLogger;
    this.providers = {
      postgres: postgresProvider,
      mysql: mysqlProvider,
      redis: redisProvider,
      files: filesProvider,
      volume: volumeProvider(),
      ...opts.providers,
    };
  }

  private provider(type: BackupConfig["type"]): BackupProvider {
    const p = this.providers[normalizeType(type)];
    if (!p) throw new UsageError(`unknown backup type "${type}" (postgres, mysql, redis, files or volume)`);
    return p;
  }

  private newId(name: string, at: Date): string {
    return `${name.replace(/^_/, "")}-${stamp(at)}-${randomBytes(2).toString("hex")}`;
  }

  private context(id: string, given?: string): { ctx: ProviderContext; cleanup(): void } {
    const workDir = mkdtempSync(join(this.storage.workDir(), `${id}-`));
    const token = given ?? newRestoreToken();
    return {
      ctx: { logger: this.logger, workDir, token },
      cleanup: () => rmSync(workDir, { recursive: true, force: true }),
    };
  }

  /**
   * Back up one service. Resolves with the record (status ok, or verified when the config says
   * `verify: true`); on failure records status failed and throws OperationFailed.
   */
  async backup(req: BackupRequest): Promise<BackupRecord> {
    const config: BackupConfig = {
      ...req.config,
      ...(req.config.paths
        ? {
            paths: req.config.paths.map((p) =>
              isAbsolute(p) ? p : resolve(req.baseDir ?? process.cwd(), p),
            ),
          }
        : {}),
    };
    const provider = this.provider(config.type);
    const rec = await this.produce(
      req.project,
      req.env,
      req.service,
      req.revision,
      provider,
      config,
      (sink, ctx) => provider.dump(config, sink, ctx),
    );
    if ((req.config as { verify?: unknown }).verify !== true) return rec;
    try {
      return await this.verify(rec.id, { config });
    } catch (e) {
      // The backup itself is good; a verify that cannot run (no scratch database) must not fail it.
      this.logger.warn("backup taken but not verified", {
        id: rec.id,
        error: scrub(errorMessage(e), secretsOf(config)),
      });
      return rec;
    }
  }

  /** Record the release itself (spec snapshot + images) as a JSON backup of service "_release". */
  async backupRelease(req: ReleaseBackupRequest): Promise<BackupRecord> {
    const body: ReleaseSnapshot = {
      format: "slipway-release/1",
      project: req.project,
      env: req.env,
      ...(req.revision !== undefined ? { revision: req.revision } : {}),
      createdAt: new Date().toISOString(),
      spec: req.spec,
      images: req.images,
    };
    const release = releaseProvider(body, req.revision);
    return this.produce(
      req.project,
      req.env,
      RELEASE_SERVICE,
      req.revision,
      release,
      { type: "release" },
      (sink, ctx) => release.dump({ type: "release" }, sink, ctx),
    );
  }

  /** The release snapshot of a release backup (checksum verified). */
  async readRelease(id: string): Promise<ReleaseSnapshot> {
    const rec = await this.require(id);
    if (rec.type !== "release")
      throw new UsageError(`backup ${id} is a ${rec.type} backup, not a release backup`);
    const file = await this.storage.fetch(rec.key);
    try {
      await this.checkSum(rec, file.path);
      const { readFile } = await import("node:fs/promises");
      return JSON.parse(await readFile(file.path, "utf8")) as ReleaseSnapshot;
    } finally {
      await file.release();
    }
  }

  private async produce(
    project: string,
    env: string,
    service: string,
    revision: number | undefined,
    provider: BackupProvider,
    config: BackupConfig,
    dump: (sink: Writable, ctx: ProviderContext) => Promise<BackupFacts>,
  ): Promise<BackupRecord> {
    const started = new Date();
    const id = this.newId(service, started);
    const rec: BackupRecord = {
      id,
      project,
      env,
      service,
      ...(revision !== undefined ? { revision } : {}),
      type: provider.type,
      status: "running",
      source: provider.describe(config),
      startedAt: started.toISOString(),
      key: `${project}/${env}/${service}/${id}.${provider.extension}`,
      facts: {},
      config: recordable(config),
    };
    await this.catalog.insert(rec);
    this.logger.info("backup started", { id, service, type: rec.type, source: rec.source });
    const { ctx, cleanup } = this.context(id);
    const partial = join(this.storage.workDir(), `${id}.partial`);
    try {
      const digest = new Digest();
      const writing = pipeline(digest, privateWriteStream(partial));
      const [facts] = await Promise.all([dump(digest, ctx), writing]);
      // On disk before it is called ok (pg_dump -f does the same unless --no-sync).
      const fh = await open(partial, "r");
      await fh.sync().finally(() => fh.close());
      rec.facts = facts;
      rec.size = digest.bytes;
      rec.sha256 = digest.hash.digest("hex");
      rec.location = await this.storage.put(rec.key, partial);
      rec.status = "ok";
      rec.finishedAt = new Date().toISOString();
      await this.catalog.update(rec);
      this.logger.info("backup finished", { id, bytes: rec.size });
      return rec;
    } catch (e) {
      rmSync(partial, { force: true });
      rec.status = "failed";
      rec.finishedAt = new Date().toISOString();
      rec.error = scrub(errorMessage(e), secretsOf(config));
      await this.catalog.update(rec);
      this.logger.error("backup failed", { id, error: rec.error });
      throw new OperationFailed(`backup ${id} of ${service} failed: ${rec.error}`);
    } finally {
      cleanup();
    }
  }

  private async require(id: string): Promise<BackupRecord> {
    const rec = await this.catalog.get(id);
    if (!rec) throw new BackupNotFound(id);
    return rec;
  }

  /** Throws OperationFailed (and marks the record corrupt) when the file's SHA-256 differs. */
  private async checkSum(rec: BackupRecord, path: string): Promise<void> {
    const actual = await sha256File(path);
    if (actual !== rec.sha256) {
      rec.status = "corrupt";
      rec.error = `checksum mismatch: recorded sha256 ${rec.sha256}, file has ${actual}`;
      await this.catalog.update(rec);
      throw new OperationFailed(`backup ${rec.id} is corrupt: ${rec.error}`);
    }
  }

  private configFor(rec: BackupRecord, given?: BackupConfig): BackupConfig {
    if (!given) return rec.config;
    if (normalizeType(given.type) !== rec.type)
      throw new UsageError(`backup ${rec.id} is a ${rec.type} backup; the config given is for ${given.type}`);
    return given;
  }

  /**
   * Replace the live data with backup `id`: staged beside the live data, then swapped in at once
   * (provider.ts stagedRestore). Checks the checksum first; refuses failed/corrupt ones.
   */
  async restore(id: string, opts: RestoreOptions = {}): Promise<BackupRecord> {
    const rec = restorable(await this.require(id), opts.force);
    const config = this.configFor(rec, opts.config);
    const provider = this.provider(config.type);
    const file = await this.storage.fetch(rec.key);
    const { ctx, cleanup } = this.context(id, opts.token);
    try {
      await this.checkSum(rec, file.path);
      this.logger.info("restore started", { id, service: rec.service, into: provider.describe(config) });
      try {
        await stagedRestore(provider, config, file.path, { ...ctx, file: file.path }, opts);
      } catch (e) {
        throw new OperationFailed(
          `restore of ${id} failed (the live data was kept): ${scrub(errorMessage(e), secretsOf(config))}`,
        );
      }
      this.logger.info("restore finished", { id });
      return rec;
    } finally {
      cleanup();
      await file.release();
    }
  }

  /** After an interrupted restore: finish or undo it by its token; which data is live now. */
  async settle(id: string, opts: SettleOptions): Promise<RestoreSide> {
    const rec = await this.require(id);
    const config = this.configFor(rec, opts.config);
    const { ctx, cleanup } = this.context(id, opts.token);
    try {
      const side = await this.provider(config.type).settle(config, ctx, opts.want);
      this.logger.info("interrupted restore settled", { id, token: opts.token, live: side });
      return side;
    } catch (e) {
      throw new OperationFailed(
        `could not settle the interrupted restore of ${id}: ${scrub(errorMessage(e), secretsOf(config))}`,
      );
    } finally {
      cleanup();
    }
  }

  /**
   * Check backup `id`: its SHA-256, then a restore into a scratch database or directory compared
   * with the facts recorded at backup time. Resolves with the record marked verified or corrupt;
   * throws OperationFailed only when the check itself cannot run (no scratch database allowed …).
   */
  async verify(id: string, opts: { config?: BackupConfig } = {}): Promise<BackupRecord> {
    const rec = await this.require(id);
    if (rec.status === "running" || rec.status === "failed")
      throw new OperationFailed(
        `backup ${id} ${rec.status === "running" ? "is still running" : "failed"}; nothing to verify`,
      );
    const config = this.configFor(rec, opts.config);
    const mark = async (ok: boolean, detail: string) => {
      rec.status = ok ? "verified" : "corrupt";
      rec.verifiedAt = new Date().toISOString();
      rec.verifyDetail = detail;
      if (ok) delete rec.error;
      else rec.error = detail;
      await this.catalog.update(rec);
      this.logger[ok ? "info" : "error"](ok ? "backup verified" : "backup is corrupt", { id, detail });
      return rec;
    };
    let file;
    try {
      file = await this.storage.fetch(rec.key);
    } catch (e) {
      return await mark(false, errorMessage(e));
    }
    const { ctx, cleanup } = this.context(id);
    try {
      const actual = await sha256File(file.path);
      if (actual !== rec.sha256)
        return await mark(false, `checksum mismatch: recorded sha256 ${rec.sha256}, file has ${actual}`);
      if (rec.type === "release") {
        const { readFile } = await import("node:fs/promises");
        try {
          JSON.parse(await readFile(file.path, "utf8"));
        } catch (e) {
          return await mark(false, `release snapshot is not JSON: ${errorMessage(e)}`);
        }
        return await mark(true, "checksum and JSON ok");
      }
      const result = await this.provider(config.type).check(config, file.path, rec.facts, ctx);
      return await mark(result.ok, scrub(result.detail, secretsOf(config)));
    } finally {
      cleanup();
      await file.release();
    }
  }

  get(id: string): Promise<BackupRecord | undefined> {
    return this.catalog.get(id);
  }

  /** Newest first; every service (and release snapshots) unless `service` is given. */
  list(project: string, env: string, service?: string): Promise<BackupRecord[]> {
    return this.catalog.list(project, env, service);
  }

  /** The newest ok or verified backup of a service, e.g. the one recorded for a revision. */
  async latest(project: string, env: string, service: string): Promise<BackupRecord | undefined> {
    const all = await this.catalog.list(project, env, service);
    return all.find((r) => r.status === "ok" || r.status === "verified");
  }

  /** Delete what the retention policy selects (see retention.ts); returns the removed records. */
  async prune(
    project: string,
    env: string,
    service: string,
    retention: Retention,
    now = new Date(),
  ): Promise<BackupRecord[]> {
    const doomed = selectForPruning(await this.catalog.list(project, env, service), retention, now);
    for (const r of doomed) {
      await this.storage.remove(r.key);
      await this.catalog.delete(r.id);
      this.logger.info("backup pruned", { id: r.id, startedAt: r.startedAt, status: r.status });
    }
    return doomed;
  }

  /** At daemon start: backups left running by a process that died are marked failed. */
  markInterrupted(): Promise<BackupRecord[]> {
    return this.catalog.markInterrupted(this.storage.workDir());
  }
}
