import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProcessDriver } from "../../src/drivers/process/process-driver.js";
import { groupMembers, isSameProcess, signal } from "../../src/drivers/process/procfs.js";
import { readState } from "../../src/drivers/process/state.js";
import type { InstanceRequest, Slot } from "../../src/drivers/driver.js";
import { resolvedService } from "../../src/spec/defaults.js";
import { instanceRequest } from "../support/instances.js";
import type { ResolvedService } from "../../src/spec/resolved.js";

export const NODE = JSON.stringify(process.execPath);

/** An HTTP app: /env answers the SLIPWAY_* variables and a hash of SECRET (never the value). */
export const SERVER_JS = `
import http from "node:http";
import { createHash } from "node:crypto";
const port = Number(process.env.PORT);
const srv = http.createServer((req, res) => {
  if (req.url === "/env") {
    const e = process.env;
    res.end(JSON.stringify({
      PORT: e.PORT, SLIPWAY_VERSION: e.SLIPWAY_VERSION, SLIPWAY_ENV: e.SLIPWAY_ENV,
      SLIPWAY_SERVICE: e.SLIPWAY_SERVICE, SLIPWAY_REVISION: e.SLIPWAY_REVISION,
      SLIPWAY_INSTANCE: e.SLIPWAY_INSTANCE, GREETING: e.GREETING, cwd: process.cwd(),
      secretHash: createHash("sha256").update(e.SECRET ?? "").digest("hex"),
    }));
  } else res.end("ok");
});
srv.listen(port, "127.0.0.1", () => console.log("listening on " + port));
process.on("SIGTERM", () => { console.log("got SIGTERM"); srv.close(); process.exit(0); });
`;

export interface Sandbox {
  home: string;
  app: string;
  driver: ProcessDriver;
  cleanup(): void;
}

/** A temp SLIPWAY_HOME and an app directory with the given files. */
export function sandbox(files: Record<string, string>): Sandbox {
  const root = mkdtempSync(join(tmpdir(), "slipway-proc-"));
  const home = join(root, "home");
  const app = join(root, "app");
  mkdirSync(app, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(app, name), text);
  const driver = new ProcessDriver({ home });
  return {
    home,
    app,
    driver,
    cleanup() {
      killAll(home);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Kills every shim and application group recorded under home (test cleanup). */
export function killAll(home: string): void {
  const base = join(home, "instances");
  const walk = (dir: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const d = join(dir, n);
      if (depth < 2) walk(d, depth + 1);
      else {
        const s = readState(d);
        if (!s) continue;
        if (isSameProcess(s.shimPid, s.shimStartTime)) signal(s.shimPid, "SIGKILL");
        if (s.appPid && groupMembers(s.appPid).length > 0) signal(-s.appPid, "SIGKILL");
      }
    }
  };
  walk(base, 0);
}

export function service(app: string, over: Partial<ResolvedService> = {}): ResolvedService {
  return resolvedService("web", {
    run: `${NODE} server.mjs`,
    path: app,
    port: 8080,
    stop: { signal: "SIGTERM", grace: 3000 },
    restart: {
      policy: "on-failure",
      backoff: 200,
      maxBackoff: 1000,
      crashLoop: { restarts: 100, within: 60_000, rollbackAfter: 0 },
    },
    rollout: { strategy: "blue-green", steps: [], sticky: false, drainTimeout: 1000, keepWarm: 0 },
    retain: 2,
    logs: { maxSize: 1024 * 1024, maxFiles: 2 },
    ...over,
  });
}

export async function request(
  d: ProcessDriver,
  svc: ResolvedService,
  opts: { revision?: number; slot?: Slot; index?: number; env?: Record<string, string> } = {},
): Promise<InstanceRequest> {
  const artifact = await d.prepare("hello", "dev", svc, opts.revision ?? 1);
  return instanceRequest(svc, artifact, {
    project: "hello",
    env: "dev",
    version: "v1.2.3",
    ...(opts.slot ? { slot: opts.slot } : {}),
    ...(opts.index !== undefined ? { index: opts.index } : {}),
    env_vars: opts.env ?? {},
  });
}

/** All files below a directory (recursively). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}
