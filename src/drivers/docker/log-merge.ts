/**
 * `logs` of several containers merged into one stream: each container's multiplexed log is
 * demuxed, split into timestamped lines and queued; the reader drains the queue as it fills.
 */
import type { Instance, LogLine, LogOptions } from "../driver.js";
import { Demuxer } from "./demux.js";
import { status, type Engines } from "./engines.js";
import { engineError } from "./hosts.js";

type Destroyable = NodeJS.ReadableStream & { destroy(): void };

/** Lines of every source in arrival order; `open` sources still to end. */
class LogQueue {
  readonly lines: LogLine[] = [];
  readonly streams: Destroyable[] = [];
  failure: unknown;
  private wake: (() => void) | undefined;

  constructor(public open: number) {}

  notify(): void {
    this.wake?.();
    this.wake = undefined;
  }

  push(inst: Instance, lines: Array<{ stream: "stdout" | "stderr"; line: string }>): void {
    for (const l of lines) {
      const m = /^(\d{4}-\d\d-\d\dT\S+Z) (.*)$/s.exec(l.line);
      this.lines.push({
        instance: inst.id,
        stream: l.stream,
        time: m?.[1],
        line: m ? (m[2] as string) : l.line,
      });
    }
    this.notify();
  }

  done(): void {
    this.open--;
    this.notify();
  }

  closeAll(): void {
    for (const s of this.streams) s.destroy();
  }

  next(): Promise<void> {
    return new Promise<void>((r) => (this.wake = r));
  }
}

export async function* mergedLogs(
  engines: Engines,
  instances: Instance[],
  opts: LogOptions,
): AsyncIterable<LogLine> {
  const q = new LogQueue(instances.length);
  const base = {
    stdout: true,
    stderr: true,
    timestamps: true,
    ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
    ...(opts.sinceMs !== undefined ? { since: Math.floor((Date.now() - opts.sinceMs) / 1000) } : {}),
  };
  const abort = () => {
    q.closeAll();
    q.open = 0;
    q.notify();
  };
  opts.signal?.addEventListener("abort", abort, { once: true });
  for (const inst of instances) await readOne(engines, q, inst, base, opts);
  try {
    for (;;) {
      while (q.lines.length) yield q.lines.shift() as LogLine;
      if (q.failure) throw q.failure;
      if (q.open <= 0 || opts.signal?.aborted) return;
      await q.next();
    }
  } finally {
    opts.signal?.removeEventListener("abort", abort);
    q.closeAll();
  }
}

/** Queue one container's log: all of it at once, or (follow) as it comes until its stream ends. */
async function readOne(
  engines: Engines,
  q: LogQueue,
  inst: Instance,
  base: { stdout: boolean; stderr: boolean; timestamps: boolean; tail?: number; since?: number },
  opts: LogOptions,
): Promise<void> {
  const { h, c } = engines.containerOf(inst);
  const d = new Demuxer();
  if (!opts.follow) {
    try {
      const buf = (await c.logs({ ...base, follow: false })) as Buffer;
      q.push(inst, [...d.push(buf), ...d.flush()]);
    } catch (e) {
      if (status(e) !== 404) q.failure = engineError(h, e);
    }
    q.done();
    return;
  }
  c.logs({ ...base, follow: true })
    .then((s) => {
      q.streams.push(s as Destroyable);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        q.push(inst, d.flush());
        q.done();
      };
      if (opts.signal?.aborted) (s as Destroyable).destroy();
      s.on("data", (b: Buffer) => q.push(inst, d.push(b)));
      s.on("end", end);
      s.on("close", end);
      s.on("error", end);
    })
    .catch((e: unknown) => {
      if (status(e) !== 404) q.failure = engineError(h, e);
      q.done();
    });
}
