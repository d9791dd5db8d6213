/** The daemon supervises the proxy: after a kill -9 its housekeeping tick starts it again, same routes. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProxyClient } from "../../src/proxy/client.js";
import { daemonPid, makeProject, waitFor, type Project } from "./harness.js";

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

const proxyPid = (home: string) => Number(readFileSync(join(home, "proxy", "proxy.pid"), "utf8").trim());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("proxy supervision", () => {
  it("kill -9 of the proxy: the daemon restarts it within seconds with the same routes", async () => {
    const p = (project = await makeProject());
    const d = p.cli(["deploy", "development", "--version", "v1"]);
    expect(d.code, d.stderr).toBe(0);
    expect(daemonPid(p.home)).toBeGreaterThan(0);
    expect((await p.get("api")).body).toBe("v1");
    const routesBefore = JSON.parse(readFileSync(join(p.home, "proxy", "routes.json"), "utf8")) as {
      routes: unknown[];
    };
    const old = proxyPid(p.home);

    process.kill(old, "SIGKILL");
    await waitFor(() => !alive(old), { what: "the proxy to die", timeoutMs: 5_000 });
    const killedAt = Date.now();
    await expect(p.get("api")).rejects.toThrow(/ECONNREFUSED/);

    // Only plain requests from here on: nothing in this test starts a proxy, the daemon must.
    await waitFor(
      async () => {
        const [a, w] = await Promise.all([p.get("api"), p.get("web")]);
        return a.body === "v1" && w.body === "v1";
      },
      { what: "requests to succeed again", timeoutMs: 8_000, intervalMs: 100 },
    );
    const downMs = Date.now() - killedAt;
    const fresh = proxyPid(p.home);
    expect(fresh).not.toBe(old);
    expect(alive(fresh)).toBe(true);
    expect(downMs).toBeLessThan(8_000);

    const routes = await new ProxyClient({ home: p.home }).getRoutes();
    expect(routes).toEqual(routesBefore.routes);
    // Still the daemon's proxy, not one this test started by asking.
    expect(proxyPid(p.home)).toBe(fresh);
  });
});
