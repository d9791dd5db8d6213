/**
 * Crash-loop watch, run by the daemon's housekeeping (Runtime.tick): a service whose serving
 * instances are crash-looping (the driver's inspect() says "crashloop") raises one
 * `health.degraded` alert; when none is crash-looping any more (or the service is gone) one
 * `health.recovered` closes it. Only transitions are published; the set of degraded services
 * is kept in a small file so a daemon restart neither repeats nor forgets an open alert.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Instance } from "../drivers/driver.js";
import type { Target } from "../spec/schema.js";
import type { Store } from "../store/store.js";
import type { EngineEvent } from "./events.js";

export interface HealthWatchDeps {
  store: Store;
  /** Live instances of an environment, from the driver of its target. */
  inspect: (target: Target, project: string, env: string) => Promise<Instance[]>;
  publish: (project: string, env: string, e: EngineEvent) => void;
  /** Where the degraded set is kept (e.g. <home>/health-watch.json). */
  file: string;
  /**
   * Roll an environment back to its previous revision (a service crash-looped longer than its
   * `restart.crashLoop.rollbackAfter`); resolves to a message for the alert.
   */
  rollback?: (project: string, env: string, reason: string) => Promise<string>;
}

interface Degraded {
  project: string;
  env: string;
  service: string;
  since: string;
  /** The automatic rollback for this episode was attempted. */
  rolledBack?: boolean;
}

export class CrashLoopWatch {
  private degraded?: Map<string, Degraded>;

  constructor(private readonly deps: HealthWatchDeps) {}

  /** One pass over every environment with instances. Environments under an operation's lock are skipped. */
  async sweep(): Promise<void> {
    const state = this.load();
    const before = JSON.stringify([...state.values()]);
    for (const { project, env, records } of (await this.environments(state)).values())
      await this.sweepEnv(state, project, env, records);
    if (JSON.stringify([...state.values()]) !== before) this.save(state);
  }

  /** Instances by environment, plus the environments that were degraded and have none left. */
  private async environments(
    state: Map<string, Degraded>,
  ): Promise<Map<string, { project: string; env: string; records: Instance[] }>> {
    const byEnv = new Map<string, { project: string; env: string; records: Instance[] }>();
    for (const r of await this.deps.store.allInstances()) {
      const k = envKey(r.project, r.env);
      const e = byEnv.get(k) ?? { project: r.project, env: r.env, records: [] };
      e.records.push(r);
      byEnv.set(k, e);
    }
    for (const d of state.values())
      if (!byEnv.has(envKey(d.project, d.env)))
        byEnv.set(envKey(d.project, d.env), { project: d.project, env: d.env, records: [] });
    return byEnv;
  }

  private async sweepEnv(
    state: Map<string, Degraded>,
    project: string,
    env: string,
    records: Instance[],
  ): Promise<void> {
    const { store } = this.deps;
    if (await store.getLock(project, env)) return; // a deploy is changing things
    let live: Instance[] = [];
    if (records.length) {
      const current = await store.currentRevision(project, env);
      const target = ((current?.snapshot as { target?: Target } | undefined)?.target ?? {
        kind: "process",
      }) as Target;
      try {
        live = await this.deps.inspect(target, project, env);
      } catch {
        return; // the driver cannot tell now; try again next tick
      }
    }
    const stateOf = new Map(live.map((i) => [i.id, i]));
    const serving = records.filter((r) => r.slot === "stable" && !r.warmUntil);
    const services = new Set([
      ...serving.map((r) => r.service),
      ...[...state.values()].filter((d) => d.project === project && d.env === env).map((d) => d.service),
    ]);
    for (const service of services) {
      const insts = serving.filter((r) => r.service === service);
      const looping = insts.filter((r) => stateOf.get(r.id)?.state === "crashloop");
      const k = `${envKey(project, env)}\u0000${service}`;
      const was = state.get(k);
      if (looping.length && !was) {
        state.set(k, { project, env, service, since: new Date().toISOString() });
        this.degradedAlert(project, env, service, insts, looping, stateOf);
      } else if (
        was &&
        looping.length &&
        looping.length === insts.length &&
        !was.rolledBack &&
        this.deps.rollback
      ) {
        await this.rollbackIfDue(state, was, this.deps.rollback);
      } else if (!looping.length && was) {
        state.delete(k);
        this.deps.publish(project, env, {
          type: "alert",
          kind: "health.recovered",
          severity: "info",
          service,
          message: insts.length
            ? `${project} ${env}: ${service} recovered (${insts.length} instance(s) running)`
            : `${project} ${env}: ${service} is no longer running (the crash loop ended with it)`,
        });
      }
    }
  }

  private degradedAlert(
    project: string,
    env: string,
    service: string,
    insts: Instance[],
    looping: Instance[],
    stateOf: Map<string, Instance>,
  ): void {
    const all = looping.length === insts.length;
    const last = stateOf.get(looping[0].id)?.lastExit;
    this.deps.publish(project, env, {
      type: "alert",
      kind: "health.degraded",
      severity: all ? "critical" : "warning",
      service,
      revision: looping[0].revision,
      message:
        `${project} ${env}: ${service} is crash-looping (${looping.length} of ${insts.length} ` +
        `instance(s))${last ? `; last exit ${last.signal ? `signal ${last.signal}` : `code ${last.code}`}` : ""}`,
      data: {
        instances: looping.map((r) => r.id),
        restarts: looping.map((r) => stateOf.get(r.id)?.restarts),
      },
    });
  }

  /** Every instance has been crash-looping: past the service's limit, go back (seed 001: 5 min). */
  private async rollbackIfDue(
    state: Map<string, Degraded>,
    was: Degraded,
    rollback: NonNullable<HealthWatchDeps["rollback"]>,
  ): Promise<void> {
    const { project, env, service } = was;
    const current = await this.deps.store.currentRevision(project, env);
    const svc = (
      current?.snapshot as {
        services?: Record<string, { restart?: { crashLoop?: { rollbackAfter?: number } } }>;
      }
    )?.services?.[service];
    const limit = svc?.restart?.crashLoop?.rollbackAfter ?? 300_000;
    if (!(limit > 0 && Date.now() - Date.parse(was.since) >= limit)) return;
    was.rolledBack = true;
    this.save(state);
    const reason = `${service} crash-looped for more than ${Math.round(limit / 1000)} s`;
    try {
      const msg = await rollback(project, env, reason);
      this.deps.publish(project, env, {
        type: "alert",
        kind: "health.rolled-back",
        severity: "critical",
        service,
        message: `${project} ${env}: ${reason}; ${msg}`,
      });
    } catch (e) {
      this.deps.publish(project, env, {
        type: "alert",
        kind: "health.rollback-failed",
        severity: "critical",
        service,
        message: `${project} ${env}: ${reason}; automatic rollback failed: ${(e as Error).message}`,
      });
    }
  }

  private load(): Map<string, Degraded> {
    if (this.degraded) return this.degraded;
    const m = new Map<string, Degraded>();
    try {
      for (const d of JSON.parse(readFileSync(this.deps.file, "utf8")) as Degraded[])
        m.set(`${envKey(d.project, d.env)}\u0000${d.service}`, d);
    } catch {
      /* none yet */
    }
    this.degraded = m;
    return m;
  }

  private save(state: Map<string, Degraded>): void {
    const tmp = `${this.deps.file}.tmp`;
    writeFileSync(tmp, JSON.stringify([...state.values()], null, 1), { mode: 0o600 });
    renameSync(tmp, this.deps.file);
  }
}

function envKey(project: string, env: string): string {
  return `${project}\u0000${env}`;
}
