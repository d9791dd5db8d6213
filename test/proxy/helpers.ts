/** Real upstreams and a real proxy process (spawned through ProxyClient) for the proxy suites. */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { Agent, createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProxyClient } from "../../src/proxy/client.js";
import type { Route, RouteTarget } from "../../src/proxy/contract.js";
import { proxyPaths } from "../../src/proxy/paths.js";
import { afterAll, beforeAll } from "vitest";
import { freePort } from "../support/ports.js";
import { httpRequest } from "../support/http.js";

export interface Upstream {
  name: string;
  url: string;
  port: number;
  server: Server;
  hits: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, name: string) => void;

/** Default handler: /slow?ms=N waits, /echo echoes the body, anything else answers the upstream's name. */
const defaultHandler: Handler = (req, res, name) => {
  const u = new URL(req.url ?? "/", "http://x");
  if (u.pathname === "/slow") {
    setTimeout(() => res.end(name), Number(u.searchParams.get("ms") ?? 1000));
    return;
  }
  if (u.pathname === "/echo") {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    req.pipe(res);
    return;
  }
  if (u.pathname === "/headers") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(req.headers));
    return;
  }
  res.end(name);
};

export async function startUpstream(name: string, handler: Handler = defaultHandler): Promise<Upstream> {
  const up: Upstream = {
    name,
    url: "",
    port: 0,
    hits: 0,
    server: createServer((req, res) => {
      up.hits++;
      handler(req, res, name);
    }),
    close: () =>
      new Promise<void>((resolve) => {
        up.server.close(() => resolve());
        up.server.closeAllConnections();
      }),
  };
  await new Promise<void>((r) => up.server.listen(0, "127.0.0.1", r));
  up.port = (up.server.address() as { port: number }).port;
  up.url = `http://127.0.0.1:${up.port}`;
  return up;
}

export function target(id: string, up: Upstream | string, slot: RouteTarget["slot"] = "stable"): RouteTarget {
  return { id, slot, url: typeof up === "string" ? up : up.url };
}

export function route(key: string, port: number, targets: RouteTarget[], extra: Partial<Route> = {}): Route {
  return {
    key,
    listen: { host: "127.0.0.1", port },
    targets,
    candidateWeight: 0,
    sticky: false,
    drainTimeoutMs: 5_000,
    responseTimeoutMs: 5_000,
    ...extra,
  };
}

export interface TestProxy {
  home: string;
  client: ProxyClient;
  port(): Promise<number>;
  pid(): number;
  cleanup(): Promise<void>;
}

/**
 * One proxy process for a suite file: a temp SLIPWAY_HOME and its client now, the process started
 * before the file's tests and stopped after them, then the upstreams the tests started with `up`.
 * `workers`: the proxy's worker processes (default: SLIPWAY_TEST_PROXY_WORKERS, else one process;
 * the *.workers.test.ts files re-run suites with 2).
 */
export function proxySuite(opts: { workers?: number } = {}): {
  px: TestProxy;
  up(name: string): Promise<Upstream>;
} {
  const home = mkdtempSync(join(tmpdir(), "slipway-proxy-test-"));
  const fromEnv = Number(process.env.SLIPWAY_TEST_PROXY_WORKERS) || undefined;
  const workers = opts.workers ?? fromEnv;
  const client = new ProxyClient({ home, workers });
  const pid = () => Number(readFileSync(proxyPaths(home).pid, "utf8").trim());
  const ups: Upstream[] = [];
  const px: TestProxy = {
    home,
    client,
    port: freePort,
    pid,
    cleanup: async () => {
      await client.stop(10_000).catch(() => false);
      try {
        process.kill(pid(), "SIGKILL");
      } catch {
        // already gone
      }
      await rm(home, { recursive: true, force: true });
    },
  };
  beforeAll(async () => {
    await client.ensureRunning();
    // The suite runs against the processes it asked for.
    const h = await client.health();
    if ((h?.workers?.length ?? 1) !== (workers ?? 1))
      throw new Error(`expected a proxy with ${workers} worker processes, health says ${JSON.stringify(h)}`);
  });
  afterAll(async () => {
    await px.cleanup();
    await Promise.all(ups.map((u) => u.close()));
  });
  return {
    px,
    up: async (name) => {
      const u = await startUpstream(name);
      ups.push(u);
      return u;
    },
  };
}

/** The sticky cookie's name for a route, as documented in docs/proxy.md. */
/** Whether a process is still there (signal 0). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export const stickyCookie = (key: string) =>
  `slipway_slot_${createHash("sha256").update(key).digest("hex").slice(0, 10)}`;

export type { Reply } from "../support/http.js";
export const get = httpRequest;

/** Concurrent request loops until stop(); every failure (status ≠ 200 or network error) is recorded. */
export function load(url: string, concurrency: number) {
  const agent = new Agent({ keepAlive: true });
  const bodies = new Map<string, number>();
  const failures: string[] = [];
  let running = true;
  let total = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const r = await get(url, { agent });
        total++;
        if (r.status !== 200) failures.push(`HTTP ${r.status}: ${r.body.slice(0, 80)}`);
        else bodies.set(r.body, (bodies.get(r.body) ?? 0) + 1);
      } catch (e) {
        total++;
        failures.push((e as Error).message);
      }
    }
  });
  return {
    bodies,
    failures,
    total: () => total,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}
