/**
 * The local spool: alerts raised while the store cannot be reached (a PostgreSQL store down, or
 * the network to it), "the store is unreachable" first among them. One JSON line per alert in
 * `SLIPWAY_HOME/notify/spool.jsonl` (mode 0600), written with fsync before the caller goes on.
 *
 * Draining (the hub retries every second while the spool holds lines): the file is renamed
 * `spool.jsonl.draining`, each line is emitted into the store's outbox in order, and the file
 * is removed. A line the store refuses again stops the drain; it and the lines after it go back
 * to the spool. A crash during a drain leaves the .draining file, drained first next time:
 * the lines already emitted before the crash are emitted again (at least once; the outbox
 * folds a repeat of a firing alert into the open one while its group has not been sent).
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import type { AlertEvent } from "./types.js";

export interface SpooledAlert {
  project: string;
  env: string;
  /** The event, with `time` set to when it happened. */
  event: AlertEvent;
}

export class Spool {
  constructor(readonly file: string) {}

  private get draining(): string {
    return `${this.file}.draining`;
  }

  append(alerts: SpooledAlert[]): void {
    if (!alerts.length) return;
    const dir = dirname(this.file);
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = openSync(this.file, "a", 0o600);
    try {
      writeSync(fd, alerts.map((a) => `${JSON.stringify(a)}\n`).join(""));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Lines waiting (in the spool or an interrupted drain). */
  pending(): boolean {
    const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
    return size(this.file) + size(this.draining) > 0;
  }

  /** Every line waiting, oldest first (for a test or `status`). */
  read(): SpooledAlert[] {
    return [this.draining, this.file].flatMap((f) => parse(f));
  }

  /**
   * Hands each alert to `emit`, in order. Resolves with how many were emitted; rejects with the
   * error of the first that failed, after putting it and the rest back.
   */
  async drain(emit: (a: SpooledAlert) => Promise<void>): Promise<number> {
    if (!existsSync(this.draining)) {
      if (!existsSync(this.file)) return 0;
      renameSync(this.file, this.draining);
    }
    const lines = parse(this.draining);
    let done = 0;
    try {
      for (const a of lines) {
        await emit(a);
        done++;
      }
    } catch (e) {
      // What is left goes before anything spooled meanwhile, so the order holds.
      const later = parse(this.file);
      rmSync(this.file, { force: true });
      this.append([...lines.slice(done), ...later]);
      rmSync(this.draining, { force: true });
      throw e;
    }
    rmSync(this.draining, { force: true });
    return done;
  }
}

function parse(file: string): SpooledAlert[] {
  if (!existsSync(file)) return [];
  const out: SpooledAlert[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as SpooledAlert);
    } catch {
      // A line cut short by a crash while appending: nothing to deliver.
    }
  }
  return out;
}
