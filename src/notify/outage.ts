/**
 * The hub's side of a store outage: while the store cannot be reached, alerts go to the local
 * spool (spool.ts) in the order they were raised, beside one "store.unreachable" alert per
 * environment with channels; every second the spool is drained into the store, and the outage
 * ends when all of it went in.
 */
import type { Logger } from "../logger.js";
import { isUnreachable } from "../store/sql.js";
import type { Spool, SpooledAlert } from "./spool.js";

export interface OutageOptions {
  spool: Spool;
  log: Logger;
  /** Puts one spooled alert into the store (rejects while it is unreachable). */
  emit(a: SpooledAlert): Promise<void>;
  /** The environments that have channels, each with its redactor. */
  environments(): { project: string; env: string; redact(s: string): string }[];
  /** How often the spool is drained while it holds alerts (default 1 s). */
  retryMs?: number;
}

export class StoreOutage {
  private since?: string;
  private timer?: NodeJS.Timeout;
  private draining?: Promise<void>;
  private closed = false;

  constructor(private readonly o: OutageOptions) {}

  /** Alerts must go to the spool: the store is down, or older alerts still wait there. */
  get spooling(): boolean {
    return this.since !== undefined || this.o.spool.pending();
  }

  spoolAlerts(alerts: SpooledAlert[]): void {
    try {
      this.o.spool.append(alerts);
      this.schedule();
    } catch (e) {
      this.o.log.error(`alerts: could not write the spool ${this.o.spool.file}: ${(e as Error).message}`);
    }
  }

  /** The store could not be reached: once per outage, a "store.unreachable" alert per environment. */
  down(err: unknown): void {
    if (this.since || this.closed) return;
    const since = new Date().toISOString();
    const error = String((err as Error)?.message ?? err);
    this.since = since;
    this.o.log.error("alerts: the store cannot be reached; alerts wait in the local spool", {
      spool: this.o.spool.file,
      error,
    });
    this.spoolAlerts(
      this.o.environments().map(({ project, env, redact }) => ({
        project,
        env,
        event: {
          project,
          env,
          kind: "store.unreachable",
          severity: "critical" as const,
          message: redact(`the Slipway store could not be reached at ${since}: ${error}`),
          time: since,
        },
      })),
    );
  }

  /** A drain after `delayMs`, when the spool holds anything. */
  schedule(delayMs = this.o.retryMs ?? 1000): void {
    if (this.closed || this.timer || !this.o.spool.pending()) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, delayMs);
    this.timer.unref?.();
  }

  /** The spool's alerts into the store, in order (one drain at a time). */
  drain(): Promise<void> {
    this.draining ??= this.drainOnce().finally(() => {
      this.draining = undefined;
      this.schedule();
    });
    return this.draining;
  }

  private async drainOnce(): Promise<void> {
    try {
      const n = await this.o.spool.drain((a) => this.o.emit(a));
      if (n || this.since)
        this.o.log.info("alerts: the store is back; spooled alerts drained", { alerts: n });
      this.since = undefined;
    } catch (e) {
      if (!isUnreachable(e)) this.o.log.error(`alerts: could not drain the spool: ${(e as Error).message}`);
      this.down(e);
    }
  }

  /** Stops retrying after one last drain (what the store still refuses stays in the spool). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.draining;
    if (this.o.spool.pending()) await this.drain();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
