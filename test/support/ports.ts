import { createServer } from "node:net";

/**
 * A free TCP port on loopback (bound once, then released).
 *
 * Ports come from below the kernel's ephemeral range (32768–60999 on Linux): a port the kernel
 * handed out with listen(0) may be given again moments later as the local port of some outgoing
 * connection of a parallel test, and the server that wanted it then fails with EADDRINUSE (seen
 * in CI). Each vitest worker draws from its own block, so two workers never hand out the same
 * port either; a port that is busy is skipped.
 */
const BLOCK = 2500;
const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 1);
const base = 10_000 + ((worker - 1) % 8) * BLOCK;
let next = Math.floor(Math.random() * BLOCK);

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let i = 0; i < BLOCK; i++) {
    const port = base + (next++ % BLOCK);
    if (await tryListen(port)) return port;
  }
  throw new Error(`no free port in ${base}–${base + BLOCK - 1}`);
}
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${opts.what ?? "condition"}${lastErr ? `: ${String(lastErr)}` : ""}`,
      );
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}
