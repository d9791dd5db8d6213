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

export async function startProxy(opts: ProxyServerOptions): Promise<ProxyServer> {
  const log = opts.logger ?? silentLogger;
  const paths = await privateProxyDir(opts.home);
  await assertNoLiveProxy(paths.socket);
  const proxy = new Proxy(opts.home, log);
  // Routes first, control socket last: once the socket answers, the restored table is in place.
  try {
    await proxy.restore();
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
  log.info("proxy started", { pid: process.pid, control: paths.socket });
  return proxy;
}
