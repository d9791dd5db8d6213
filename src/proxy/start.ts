/** Start the proxy in the current process: one process, data plane and control socket (the default). */
import { chmod, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import type { ProxyServer } from "./contract.js";
import { assertNoLiveProxy, startControl } from "./control.js";
import { proxyPaths } from "./paths.js";
import { Proxy } from "./server.js";

export interface ProxyServerOptions {
  home: string;
  logger?: Logger;
}

/** Remove the pid file if it still names this process. */
export async function removePidFile(file: string): Promise<void> {
  try {
    if ((await readFile(file, "utf8")).trim() === String(process.pid)) await unlink(file);
  } catch {
    // already gone
  }
}

/** The proxy directory, 0700 even when it existed wider (mkdir's mode only applies on creation). */
export async function privateProxyDir(home: string): Promise<ReturnType<typeof proxyPaths>> {
  const paths = proxyPaths(home);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await chmod(paths.dir, 0o700);
  return paths;
}

/**
 * The common start of a proxy process: its private directory, no other live proxy on the
 * socket, the routing table put in place (`prepare`), then the pid file and the control socket
 * last — once the socket answers, the table is there. A failure closes what was started.
 */
export async function serveProxy<P extends ProxyServer & { closeControl: () => Promise<void> }>(
  home: string,
  log: Logger,
  make: () => P,
  prepare: (proxy: P) => Promise<void>,
  facts: Record<string, unknown> = {},
): Promise<P> {
  const paths = await privateProxyDir(home);
  await assertNoLiveProxy(paths.socket);
  const proxy = make();
  try {
    await prepare(proxy);
    await writeFile(paths.pid, `${process.pid}\n`, { mode: 0o600 });
    const control = await startControl(proxy, paths.socket, log);
    proxy.closeControl = async () => {
      await control.close();
      await unlink(paths.socket).catch(() => {});
      await removePidFile(paths.pid);
    };
  } catch (e) {
    await proxy.close({ graceful: false });
    throw e;
  }
  log.info("proxy started", { pid: process.pid, control: paths.socket, ...facts });
  return proxy;
}

export async function startProxy(opts: ProxyServerOptions): Promise<ProxyServer> {
  const log = opts.logger ?? silentLogger;
  return serveProxy(
    opts.home,
    log,
    () => new Proxy(opts.home, log),
    (p) => p.restore(),
  );
}
