/**
 * Where backup artifacts live. The manager writes each artifact to a local work file first
 * (hashing it on the way), then hands it to the storage; an object store implements the same
 * four verbs (upload, download to a temp file, delete, exists).
 */
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { OperationFailed } from "../errors.js";

export interface FetchedArtifact {
  /** A local file to read. */
  path: string;
  /** Release it when done (a downloaded copy is deleted; a local file is left alone). */
  release(): Promise<void>;
}

export interface BackupStorage {
  /** A short name for messages, e.g. "local". */
  readonly kind: string;
  /** A directory on the same filesystem as the local store where work files are written. */
  workDir(): string;
  /** Take ownership of `localFile` (moved or uploaded) under `key`; returns the location string. */
  put(key: string, localFile: string): Promise<string>;
  /** A local readable file for `key`. Throws OperationFailed when it is missing. */
  fetch(key: string): Promise<FetchedArtifact>;
  remove(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
}

/** Files under `root` (default `${SLIPWAY_HOME}/backups`), directories 0700, files 0600. */
export class LocalStorage implements BackupStorage {
  readonly kind = "local";
  constructor(readonly root: string) {}

  private file(key: string): string {
    const p = resolve(this.root, key);
    if (relative(this.root, p).startsWith("..") || !p.startsWith(resolve(this.root) + sep))
      throw new OperationFailed(`backup key escapes the backup directory: ${key}`);
    return p;
  }

  workDir(): string {
    const d = join(this.root, ".work");
    mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  }

  async put(key: string, localFile: string): Promise<string> {
    const dest = this.file(key);
    mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
    renameSync(localFile, dest);
    chmodSync(dest, 0o600);
    // Make the rename durable too.
    const fd = openSync(dirname(dest), "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return dest;
  }

  async fetch(key: string): Promise<FetchedArtifact> {
    const p = this.file(key);
    if (!existsSync(p) || !statSync(p).isFile())
      throw new OperationFailed(`backup file is missing: ${p} (deleted outside Slipway?)`);
    return { path: p, release: async () => {} };
  }

  async remove(key: string): Promise<void> {
    rmSync(this.file(key), { force: true });
  }

  async exists(key: string): Promise<boolean> {
    return existsSync(this.file(key));
  }
}
