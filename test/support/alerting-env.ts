/**
 * A real engine with one deployed environment whose alerts reach a webhook receiver on loopback,
 * and the scheduler built as src/server/daemon.ts builds it, for tests of scheduled work that
 * ends in alerts (backups, checks).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import type { EngineEvent } from "../../src/engine/events.js";
import { createRuntime, type Runtime } from "../../src/factory.js";
import { silentLogger } from "../../src/logger.js";
import { Scheduler } from "../../src/server/scheduler.js";
import { loadSpecFile } from "../../src/spec/load.js";
import { resolveSpec, type Resolution } from "../../src/spec/resolve.js";
import type { ResolvedSpec } from "../../src/spec/resolved.js";
import { startHttpReceiver, type HttpReceiver } from "./receivers.js";
import { recordDeployed } from "./deployed-env.js";

export type Alert = Extract<EngineEvent, { type: "alert" }>;

/** What the webhook channel delivers per alert (the fields the tests look at). */
export interface DeliveredAlert {
  status: string;
  labels: Record<string, string>;
  severity: string;
  data?: { daysLeft?: number; subject?: string };
}

export interface AlertingEnv {
  dir: string;
  res: Resolution;
  engine: Runtime;
  /** Every alert event the engine raised, in order. */
  alerts: Alert[];
  /** Every alert the webhook received, in order. */
  delivered: () => DeliveredAlert[];
  /** Raise an event through the engine, as the daemon's scheduler does. */
  publish: (spec: ResolvedSpec, ev: EngineEvent) => void;
  /** A new scheduler built as the daemon builds it (not started; stopped after the test). */
  scheduler: () => Scheduler;
}

export interface AlertingEnvOptions {
  /** Part of the temp dir's name. */
  name: string;
  /** slipway.yaml for environment dev, version v1; `${HOOK_URL}` is the webhook receiver's URL. */
  spec: string;
  /** The services revision 1 deployed, and the one with a running instance. */
  services: string[];
  running: string;
  /** Writes what the spec needs into the dir before it is resolved. */
  prepare?: (dir: string) => void;
}

/**
 * Registers an afterEach that tears down what the test built (scheduler, engine, receiver, dir,
 * in that order) and returns the builder: one environment per test.
 */
export function alertingEnvs(): (opts: AlertingEnvOptions) => Promise<AlertingEnv> {
  let undo: (() => unknown)[] = [];
  afterEach(async () => {
    for (const u of undo.reverse()) await u();
    undo = [];
  });
  return async (opts) => {
    const dir = mkdtempSync(join(tmpdir(), `slipway-${opts.name}-`));
    undo.push(() => rmSync(dir, { recursive: true, force: true }));
    opts.prepare?.(dir);
    writeFileSync(join(dir, "slipway.yaml"), opts.spec);
    const hooks: HttpReceiver = await startHttpReceiver();
    undo.push(() => hooks.close());
    const res = resolveSpec(loadSpecFile(join(dir, "slipway.yaml")), {
      env: "dev",
      version: "v1",
      vars: { HOOK_URL: `${hooks.url}/hook` },
    });
    const engine = await createRuntime({ home: join(dir, "home") });
    undo.push(() => engine.close());
    await recordDeployed(engine.store, res, opts.services, opts.running);
    engine.remember(res);
    engine.notify.configure(res);
    engine.notify.start();
    const alerts: Alert[] = [];
    engine.subscribe((_p, _e, ev) => {
      if (ev.type === "alert") alerts.push(ev);
    });
    const publish = (s: ResolvedSpec, ev: EngineEvent) =>
      engine.slipway(s.target).publish(s.project, s.env, ev);
    return {
      dir,
      res,
      engine,
      alerts,
      delivered: () =>
        hooks.requests.flatMap((r) => (JSON.parse(r.body) as { alerts: DeliveredAlert[] }).alerts),
      publish,
      scheduler: () => {
        const s = new Scheduler({
          home: engine.home,
          store: engine.store,
          logger: silentLogger,
          latest: (p, n) => engine.latest(p, n),
          publish,
        });
        undo.push(() => s.stop());
        return s;
      },
    };
  };
}
