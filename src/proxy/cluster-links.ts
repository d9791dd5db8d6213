/**
 * The primary's side of one worker process: fork it, wait until it is ready, send it requests
 * and match the answers. A worker that exits answers every pending request with "gone" (its
 * replacement starts from the primary's current table, so nothing waits on a dead process).
 */
import cluster from "node:cluster";
import type { Worker } from "node:cluster";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FromWorker, WorkerReply, WorkerRequest } from "./cluster-ipc.js";

export type LinkReply = WorkerReply | { gone: true };

/** The entry the workers run: the proxy's main module (sources under tsx, or dist/). */
function mainModule(): string {
  const here = fileURLToPath(import.meta.url);
  return join(dirname(here), here.endsWith(".ts") ? "main.ts" : "main.js");
}

let primarySetUp = false;

/** How long a worker has to answer; undefined: no limit (close has the primary's own budget). */
function answerWithinMs(req: WorkerRequest): number | undefined {
  if (req.op === "close") return undefined;
  if (req.op === "waitDrained") return req.timeoutMs + 15_000;
  if (req.op === "init") return 60_000;
  // A test hook, and only that: the stuck-worker test shortens the wait (test/proxy/workers.test.ts).
  return Number(process.env.SLIPWAY_TEST_ANSWER_MS) || 15_000;
}

export class WorkerLink {
  readonly worker: Worker;
  readonly pid: number;
  readonly startedAt = Date.now();
  /** Gets broadcasts (set once its initial table is on the way). */
  live = false;
  private next = 1;
  private readonly pending = new Map<number, (r: LinkReply) => void>();
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private gone = false;

  private constructor(home: string) {
    if (!primarySetUp) {
      // Workers run main with the primary's Node flags (the tsx loader when run from sources).
      cluster.setupPrimary({ exec: mainModule(), args: ["--home", home] });
      primarySetUp = true;
    }
    this.worker = cluster.fork();
    this.pid = this.worker.process.pid ?? 0;
    this.exited = new Promise((resolve) =>
      this.worker.once("exit", (code: number | null, signal: string | null) => {
        this.gone = true;
        this.live = false;
        for (const r of this.pending.values()) r({ gone: true });
        this.pending.clear();
        resolve({ code, signal });
      }),
    );
    this.ready = new Promise((resolve, reject) => {
      this.worker.on("message", (m: FromWorker) => {
        if ("ready" in m) return resolve();
        const r = this.pending.get(m.id);
        this.pending.delete(m.id);
        r?.(m);
      });
      void this.exited.then(({ code, signal }) =>
        reject(
          new Error(`worker process ${this.pid} exited before it was ready (${signal ?? `code ${code}`})`),
        ),
      );
    });
    this.ready.catch(() => {});
  }

  static fork(home: string): WorkerLink {
    return new WorkerLink(home);
  }

  /**
   * Send a request; the answer, or "gone" once the worker exited. A worker that does not answer
   * in time is stuck (a blocked event loop serves nobody either): it is killed, and replaced
   * like any dead worker, so a route change never waits on it forever.
   */
  call(req: WorkerRequest): Promise<LinkReply> {
    if (this.gone || !this.worker.isConnected()) return Promise.resolve({ gone: true });
    const id = this.next++;
    const limit = answerWithinMs(req);
    return new Promise((resolve) => {
      const timer =
        limit === undefined
          ? undefined
          : setTimeout(() => {
              this.onStuck?.(req.op, limit);
              this.kill();
            }, limit);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.worker.send({ ...req, id }, undefined, (err: Error | null) => {
        if (!err) return;
        this.pending.get(id)?.({ gone: true });
        this.pending.delete(id);
      });
    });
  }

  /** Told before a stuck worker is killed (for the log). */
  onStuck: ((op: string, ms: number) => void) | undefined;

  kill(): void {
    if (!this.gone) this.worker.process.kill("SIGKILL");
  }
}

/** Ready within the time, or killed and rejected. */
export async function readyWithin(link: WorkerLink, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`worker process ${link.pid} not ready within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([link.ready, timeout]);
  } catch (e) {
    link.kill();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
