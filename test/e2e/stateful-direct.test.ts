/**
 * A stateful service with a port is not proxied (the proxy speaks HTTP, a database does not):
 * its one instance binds the public port itself, and the proxy has no route for it.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ProxyClient } from "../../src/proxy/client.js";
import { freePort } from "../support/ports.js";
import { makeProject, type Project } from "./harness.js";

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

/** One RESP command over a raw TCP connection: what a Redis client would send. */
function redis(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    s.setTimeout(3_000, () => s.destroy(new Error("timeout")));
    s.on("connect", () => s.write(`${command}\r\n`));
    s.on("data", (d) => {
      s.destroy();
      resolve(d.toString().trim());
    });
    s.on("error", reject);
  });
}

interface StatusJson {
  result: { services: { name: string; instances: { address?: string; revision: number }[] }[] };
}

describe("stateful services bind their port directly", () => {
  it("a stateful Redis with a port answers RESP on that port; the proxy routes only the HTTP services", async () => {
    const port = await freePort();
    const p = (project = await makeProject(
      `  cache:
    run: redis-server --port $PORT --bind 127.0.0.1 --save "" --appendonly no
    path: ./app
    port: ${port}
    stateful: true
    health: { tcp: true, interval: 200ms }
    stop: { grace: 3s }
`,
    ));
    const d = p.cli(["deploy", "development", "--version", "v1"]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr + d.stdout).toMatch(/cache \(recreate, 1 instance, :\d+ direct, not proxied\)/);
    expect(await redis(port, "SET k kept")).toBe("+OK");
    expect(await redis(port, "GET k")).toBe("$4\r\nkept");
    expect((await p.get("api")).body).toBe("v1");

    // Ask the live proxy, not its snapshot.
    const list = await new ProxyClient({ home: p.home }).getRoutes();
    expect(list.map((r) => r.key).sort()).toEqual(["e2e/development/api", "e2e/development/web"]);
    expect(list.some((r) => r.listen.port === port)).toBe(false);

    const st = p.cli(["status", "development", "--json"]).json<StatusJson>().result;
    const cache = st.services.find((s) => s.name === "cache")!;
    expect(cache.instances.map((i) => i.address)).toEqual([`127.0.0.1:${port}`]);

    // recreate on the fixed port: the old instance goes, the new one binds the same port (the
    // cache is unchanged, so only --force-recreate replaces it).
    const d2 = p.cli([
      "deploy",
      "development",
      "--version",
      "v2",
      "--only",
      "cache",
      "--force-recreate",
      "cache",
    ]);
    expect(d2.code, d2.stderr).toBe(0);
    expect(await redis(port, "PING")).toBe("+PONG");
    const st2 = p.cli(["status", "development", "--json"]).json<StatusJson>().result;
    expect(st2.services.find((s) => s.name === "cache")!.instances.map((i) => i.revision)).toEqual([2]);
  });
});
