/**
 * The notifier's scheduling: one turn of work at a time (commit results, flush due groups,
 * claim and send), run at the next moment something is due, or at once when asked. A turn
 * asked for while one runs follows it.
 */
export class TurnLoop {
  private running = false;
  private stopped = true;
  private timer?: NodeJS.Timeout;
  private wakeAt = Infinity;
  private queued = false;
  private again = false;
  /** The turn in progress, if any. */
  current?: Promise<void>;

  /** `turn` resolves with when the next turn is due (epoch ms on `now`'s clock). */
  constructor(
    private readonly turn: () => Promise<number>,
    private readonly now: () => number,
  ) {}

  get active(): boolean {
    return this.running && !this.stopped;
  }

  start(): void {
    this.running = true;
    this.stopped = false;
  }

  /** No new turns; resolves when the turn in progress ends. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.wakeAt = Infinity;
    await this.current;
  }

  /** A turn at `at` (or sooner if one is already due sooner). */
  wake(at: number): void {
    if (!this.active || at >= this.wakeAt) return;
    this.wakeAt = at;
    if (this.timer) clearTimeout(this.timer);
    const t = setTimeout(() => this.tick(), Math.max(0, at - this.now()));
    t.unref?.();
    this.timer = t;
  }

  /** A turn at the next turn of the event loop (many completions, one turn). */
  soon(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      this.tick();
    });
  }

  /** A turn now, or right after the one in progress. */
  tick(): void {
    if (!this.active) return;
    if (this.current) {
      this.again = true;
      return;
    }
    this.wakeAt = Infinity;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.current = this.turn().then(
      (next) => this.finish(next),
      () => this.finish(this.now() + 1000),
    );
  }

  private finish(next: number): void {
    this.current = undefined;
    if (this.again) {
      this.again = false;
      this.tick();
    } else this.wake(next);
  }
}
