/**
 * The control socket is the proxy's only door: its directory is 0700 at every start (not only
 * when created) and the socket is 0600, whatever umask the proxy was started with.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProxyClient } from "../../src/proxy/client.js";
import { proxyPaths } from "../../src/proxy/paths.js";
import { freePort } from "../support/ports.js";
import { route } from "./helpers.js";

const mode = (p: string) => statSync(p).mode & 0o777;
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe("proxy control socket permissions", () => {
  it("tightens a pre-existing 0755 directory to 0700 and keeps every file 0600 under umask 000", async () => {
    const home = mkdtempSync(join(tmpdir(), "slipway-proxy-perms-"));
    const paths = proxyPaths(home);
    mkdirSync(paths.dir, { mode: 0o755 });
    chmodSync(paths.dir, 0o755);
    const client = new ProxyClient({ home });
    cleanup = async () => {
      await client.stop(10_000).catch(() => false);
      rmSync(home, { recursive: true, force: true });
    };
    // The spawned proxy inherits this umask: nothing it creates may follow it.
    const umask = process.umask(0);
    try {
      await client.ensureRunning();
      await client.setRoute(route("t/dev/perms", await freePort(), []));
    } finally {
      process.umask(umask);
    }
    expect(mode(paths.dir)).toBe(0o700);
    expect(statSync(paths.socket).isSocket()).toBe(true);
    expect(mode(paths.socket)).toBe(0o600);
    expect(mode(paths.pid)).toBe(0o600);
    expect(mode(paths.snapshot)).toBe(0o600);
    expect(mode(paths.log)).toBe(0o600);

    // Loosened while it runs, then restarted: tight again.
    chmodSync(paths.dir, 0o755);
    expect(await client.stop(10_000)).toBe(true);
    await client.ensureRunning();
    expect(mode(paths.dir)).toBe(0o700);
    expect(mode(paths.socket)).toBe(0o600);
    expect((await client.getRoutes()).map((r) => r.key)).toEqual(["t/dev/perms"]);
  });
});
