/**
 * The scheduled health sweep (`schedules: [{ run: health, heal: restart }]`, seed 002's "every
 * 5 minutes"): every serving instance of the deployed revision is probed with its service's
 * health probe. An instance that is gone or has exited is dead; one that fails its probe
 * `unhealthyThreshold` times in a row (`interval` apart) is unhealthy, even though its process
 * is alive (a hung server still has a pid). A service with such instances raises one
 * `health.degraded` alert; with `heal: restart` they are stopped and started again in place,
 * and once every instance answers again one `health.recovered` resolves the alert.
 *
 * Crash-looping instances are left to the crash-loop watch (engine/crash-loop-watch.ts), which
 * alerts on them and rolls the release back; restarting them here would only reset its clock.
 * The set of degraded services is kept in a small file so a daemon restart neither repeats nor
 * forgets an open alert.
 */
import { join } from "node:path";
import type { Instance } from "../drivers/driver.js";
import { errorMessage } from "../errors.js";
import type { Resolution } from "../spec/resolve.js";
import type { ResolvedService, ResolvedSpec } from "../spec/resolved.js";
import type { Revision } from "../store/store.js";
import type { EngineDeps } from "./context.js";
import type { EventSink } from "./events.js";
import { effectiveHealth } from "./health-gate.js";
import { liveSpec } from "./deployed.js";
import { replaceInstance } from "./replace-lost.js";
import { OpenAlerts } from "./open-alerts.js";
import { servesIn } from "./carry.js";
import { isWarm } from "./warm.js";

export interface SweepOptions {
  /** `restart`: replace dead and unhealthy instances; `none`: only alert. */
  heal: "restart" | "none";
  /** The `schedules:` entry's name, for messages and alert data. */
  schedule: string;
  /** The latest operation's resolution (its secrets start the replacements). */
  latest?: Resolution;
}

export interface SweepFinding {
  instance: string;
  service: string;
  problem: "dead" | "unhealthy";
  message: string;
  /** The instance started in its place. */
  restartedAs?: string;
  restartError?: string;
}

export interface SweepReport {
  probed: number;
  findings: SweepFinding[];
}

/** One sweep's fixed facts, shared by its steps. */
interface Sweep {
  deps: EngineDeps;
  project: string;
  env: string;
  spec: ResolvedSpec;
  current: Revision;
  live: Map<string, Instance>;
  opts: SweepOptions;
  emit: EventSink;
}

type Bad = { rec: Instance; finding: SweepFinding };

/** Run one sweep of an environment. The caller holds the environment's lock. */
export async function sweepHealth(
  deps: EngineDeps,
  project: string,
  env: string,
  opts: SweepOptions,
  emit: EventSink,
): Promise<SweepReport> {
  const { store, driver } = deps;
  const current = await store.currentRevision(project, env);
  if (!current) return { probed: 0, findings: [] };
  const spec = liveSpec(current, opts.latest);
  const records = (await store.listInstances(project, env)).filter(
    (r) => r.slot === "stable" && !isWarm(r) && servesIn(current, r),
  );
  const live = new Map((await driver.inspect(project, env)).map((i) => [i.id, i]));
  const sweep: Sweep = { deps, project, env, spec, current, live, opts, emit };
  const state = new OpenAlerts(join(deps.home, "health-sweep.json"), project, env);
  const findings: SweepFinding[] = [];
  let probed = 0;
  const services = new Set([...records.map((r) => r.service), ...state.keys()]);
  for (const name of services) {
    const svc = spec.services[name];
    const insts = records.filter((r) => r.service === name);
    const found = await findBad(sweep, name, svc, insts);
    probed += found.probed;
    const bad = found.bad;
    const wasDegraded = state.has(name);
    if (bad.length && !wasDegraded) {
      state.set(name, "degraded");
      emit({
        type: "alert",
        kind: "health.degraded",
        severity: bad.length === insts.length ? "critical" : "warning",
        service: name,
        revision: current.number,
        message:
          `${project} ${env}: ${name}: ${bad.length} of ${insts.length} instance(s) failed the health sweep ` +
          `(${opts.schedule}): ${bad.map((b) => `${b.rec.id} ${b.finding.message}`).join("; ")}`,
        data: { schedule: opts.schedule, findings: bad.map((b) => b.finding) },
      });
    }
    let healed = bad.length === 0;
    if (bad.length && opts.heal === "restart" && svc) healed = await restartBad(sweep, name, svc, bad);
    findings.push(...bad.map((b) => b.finding));
    if (healed && (wasDegraded || bad.length) && state.has(name)) {
      state.delete(name);
      emit({
        type: "alert",
        kind: "health.recovered",
        severity: "info",
        service: name,
        revision: current.number,
        message: insts.length
          ? `${project} ${env}: ${name} is healthy again${bad.length ? ` (restarted ${bad.map((b) => b.rec.id).join(", ")})` : ""}`
          : `${project} ${env}: ${name} is no longer deployed`,
        data: { schedule: opts.schedule },
      });
    }
  }
  state.save();
  return { probed, findings };
}

/** The dead and unhealthy instances of one service (crash-looping ones are the crash-loop watch's). */
async function findBad(
  sweep: Sweep,
  name: string,
  svc: ResolvedService | undefined,
  insts: Instance[],
): Promise<{ bad: Bad[]; probed: number }> {
  const bad: Bad[] = [];
  let probed = 0;
  for (const rec of insts) {
    const l = sweep.live.get(rec.id);
    if (l && (l.state === "crashloop" || l.state === "starting" || l.state === "restarting")) continue;
    if (!l || l.state === "exited") {
      const message = l ? "the instance has exited" : "the instance is gone";
      bad.push({ rec, finding: { instance: rec.id, service: name, problem: "dead", message } });
      continue;
    }
    if (!svc) continue;
    probed++;
    const failure = await probeFails(sweep.deps, svc, l);
    if (failure)
      bad.push({
        rec,
        finding: { instance: rec.id, service: name, problem: "unhealthy", message: failure },
      });
  }
  return { bad, probed };
}

/** `heal: restart`: stop and replace each bad instance in place; true when every replacement is healthy. */
async function restartBad(sweep: Sweep, name: string, svc: ResolvedService, bad: Bad[]): Promise<boolean> {
  const { deps, project, env, spec, current, live, opts, emit } = sweep;
  let healed = true;
  const stillLive = new Set([...live.keys()].filter((id) => !bad.some((b) => b.rec.id === id)));
  for (const { rec, finding } of bad) {
    try {
      const l = live.get(rec.id);
      if (l) await deps.driver.stop(l, { signal: svc.stop.signal, graceMs: svc.stop.grace });
      await deps.store.removeInstance(project, env, rec.id);
      const r = await replaceInstance(deps, spec, current, svc, rec, stillLive);
      stillLive.add(r.rec.id);
      finding.restartedAs = r.rec.id;
      if (!r.health.healthy) {
        healed = false;
        finding.restartError = `not healthy after the restart: ${r.health.message}`;
      }
      emit({
        type: "alert",
        kind: "instance.restarted",
        severity: "warning",
        service: name,
        revision: current.number,
        message:
          `${project} ${env}: ${rec.id} ${finding.message}; restarted as ${r.rec.id}` +
          (r.health.healthy ? "" : ` (${finding.restartError})`),
        data: { schedule: opts.schedule, finding },
      });
    } catch (e) {
      healed = false;
      finding.restartError = errorMessage(e);
      emit({
        type: "alert",
        kind: "instance.lost",
        severity: "critical",
        service: name,
        revision: current.number,
        message: `${project} ${env}: ${rec.id} ${finding.message} and could not be restarted: ${finding.restartError}`,
      });
    }
  }
  return healed;
}

/**
 * The service's probe, `unhealthyThreshold` times `interval` apart; the last failure's message
 * when every attempt failed (one slow answer is not a reason to restart), else undefined.
 */
async function probeFails(
  deps: EngineDeps,
  svc: ResolvedService,
  inst: Instance,
): Promise<string | undefined> {
  const h = effectiveHealth(svc);
  const attempts = Math.max(1, h?.unhealthyThreshold ?? 1);
  let last = "";
  for (let i = 0; i < attempts; i++) {
    if (i) await new Promise((r) => setTimeout(r, h?.interval ?? 1000));
    const r = await deps
      .health(svc, inst, AbortSignal.timeout((h?.timeout ?? 2000) + 1000), { once: true })
      .catch((e: unknown) => ({ healthy: false, message: errorMessage(e) }));
    if (r.healthy) return undefined;
    last = r.message;
  }
  return `failed its health probe ${attempts} time(s): ${last}`;
}
