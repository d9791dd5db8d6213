/**
 * The standing rules of the deployed environments, evaluated by the daemon (issue 13, item 1).
 * The daemon's scheduler hands over the deployed environments' specs after every re-read
 * (sync()); each environment gets one timer per distinct rule interval, and each round measures
 * its rules with the analysis providers over the environment's serving instances (proxy stats,
 * driver stats, Prometheus, scrape, json). A rule that starts firing raises `rule.firing` (the
 * rule's severity, label `rule`) through the engine's events — hence the alert routes, grouping
 * and silences; one that stops firing sends `rule.resolved`, which resolves it.
 *
 * The states are kept in the store's key/value area (`rules:<project>:<env>`) on every
 * transition and at least every minute, so a restarted daemon (or a second one on a shared
 * store) neither raises a firing rule again nor forgets to resolve it.
 */
import type { Measurement, MetricProviders } from "../../analysis/index.js";
import { errorMessage } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { ResolvedSpec } from "../../spec/resolved.js";
import type { Rule } from "../../spec/schema-rules.js";
import type { Target } from "../../spec/schema.js";
import type { Store } from "../../store/store.js";
import type { Instance } from "../../drivers/driver.js";
import { formatDuration } from "../../util/units.js";
import { releaseProviders } from "../analysis-providers.js";
import { servesIn } from "../carry.js";
import type { EngineDeps } from "../context.js";
import type { EngineEvent } from "../events.js";
import { isWarm } from "../warm.js";
import { httpGet } from "../../analysis/http.js";
import { PrometheusBatch } from "./prometheus-batch.js";
import { carryStatus, evaluateRule, metricOf, type RuleStatus } from "./rule-state.js";

export interface RuleHost {
  store: Store;
  deps(target: Target): EngineDeps;
  publish(project: string, env: string, e: EngineEvent): void;
  logger: Logger;
  now?: () => number;
}

/** One rule's status with its environment (what /metrics exports). */
export interface RuleStatusOf extends RuleStatus {
  project: string;
  env: string;
}

const metaKey = (project: string, env: string) => `rules:${project}:${env}`;
const envKey = (project: string, env: string) => `${project}\u0000${env}`;
/** Measurements of one round run at once at most. */
const PARALLEL = 16;
/** Values are saved at least this often (transitions at once). */
const SAVE_EVERY_MS = 60_000;

export class RuleWatcher {
  private readonly envs = new Map<string, EnvRules>();
  private closed = false;

  constructor(private readonly host: RuleHost) {}

  /** Follow the deployed environments' specs: start, update or stop their evaluation. */
  sync(specs: readonly ResolvedSpec[]): void {
    if (this.closed) return;
    const seen = new Set<string>();
    for (const spec of specs) {
      const key = envKey(spec.project, spec.env);
      const rules = spec.rules ?? [];
      if (!rules.length && !this.envs.has(key)) continue;
      seen.add(key);
      let e = this.envs.get(key);
      if (!e) {
        e = new EnvRules(this.host, spec);
        this.envs.set(key, e);
      }
      e.update(spec);
    }
    for (const [key, e] of this.envs)
      if (!seen.has(key)) {
        e.update(undefined); // no longer deployed: resolve what fires, stop
        this.envs.delete(key);
      }
  }

  /** The rules of an environment: live when evaluated here, else as last saved in the store. */
  async states(project: string, env: string): Promise<{ evaluated: boolean; rules: RuleStatus[] }> {
    const live = this.envs.get(envKey(project, env));
    if (live) return { evaluated: true, rules: live.statuses() };
    return { evaluated: false, rules: await loadStatuses(this.host.store, project, env) };
  }

  /** Every evaluated rule of every environment. */
  all(): RuleStatusOf[] {
    return [...this.envs.values()].flatMap((e) => e.statuses().map((s) => ({ ...s, ...e.where })));
  }

  /** Evaluate an environment's rules now (tests, `slipway rules --now`). */
  async evaluateNow(project: string, env: string): Promise<void> {
    await this.envs.get(envKey(project, env))?.round();
  }

  close(): void {
    this.closed = true;
    for (const e of this.envs.values()) e.stop();
    this.envs.clear();
  }
}

async function loadStatuses(store: Store, project: string, env: string): Promise<RuleStatus[]> {
  try {
    const raw = await store.getMeta(metaKey(project, env));
    const v = raw ? (JSON.parse(raw) as unknown) : [];
    return Array.isArray(v) ? (v as RuleStatus[]) : [];
  } catch {
    return [];
  }
}

/** The rules of one environment: their timers, providers and states. */
class EnvRules {
  readonly where: { project: string; env: string };
  private spec: ResolvedSpec;
  private rules: Rule[] = [];
  private readonly status = new Map<string, RuleStatus>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private providers: MetricProviders | undefined;
  private providersFor = "";
  private loaded: Promise<void>;
  private running = new Set<number>();
  private lastSave = 0;
  private instances?: { at: number; list: Promise<Map<string, Instance[]>> };
  private readonly now: () => number;
  private readonly batch = new PrometheusBatch();
  private readonly fetched = new Map<string, { at: number; body: Promise<string> }>();

  constructor(
    private readonly host: RuleHost,
    spec: ResolvedSpec,
  ) {
    this.spec = spec;
    this.where = { project: spec.project, env: spec.env };
    this.now = host.now ?? Date.now;
    this.loaded = loadStatuses(host.store, spec.project, spec.env).then((saved) => {
      for (const s of saved) if (!this.status.has(s.name)) this.status.set(s.name, s);
    });
  }

  statuses(): RuleStatus[] {
    return this.rules.map((r) => this.status.get(r.name) ?? carryStatus(undefined, r, this.now()));
  }

  /** A new definition (or none: the environment is gone). Rules that went away while firing resolve. */
  update(spec: ResolvedSpec | undefined): void {
    const next = spec?.rules ?? [];
    if (spec) this.spec = spec;
    void this.loaded.then(() => {
      const now = this.now();
      for (const [name, s] of this.status) {
        if (next.some((r) => r.name === name)) continue;
        if (s.state === "firing") this.resolve(s, spec ? "the rule was removed" : "the environment is gone");
        this.status.delete(name);
      }
      for (const r of next) this.status.set(r.name, carryStatus(this.status.get(r.name), r, now));
      this.rules = next;
      void this.save(true);
    });
    const target = JSON.stringify(this.spec.target);
    if (target !== this.providersFor) this.providers = undefined; // another driver: new providers
    const intervals = new Set(next.map((r) => r.interval));
    for (const [ms, t] of this.timers)
      if (!intervals.has(ms)) {
        clearInterval(t);
        this.timers.delete(ms);
      }
    for (const ms of intervals) {
      if (this.timers.has(ms)) continue;
      const t = setInterval(() => void this.round(ms), ms);
      t.unref();
      this.timers.set(ms, t);
    }
  }

  stop(): void {
    for (const t of this.timers.values()) clearInterval(t);
    this.timers.clear();
  }

  private providersNow(): MetricProviders {
    if (!this.providers) {
      const deps = this.host.deps(this.spec.target);
      this.providers = releaseProviders(
        deps,
        () => this.serving(deps),
        (url, signal) => this.scrape(url, signal),
      );
      this.providersFor = JSON.stringify(this.spec.target);
    }
    return this.providers;
  }

  /** An endpoint's text, fetched once per round however many rules read it. */
  private scrape(url: string, signal: AbortSignal): Promise<string> {
    const now = this.now();
    const hit = this.fetched.get(url);
    if (hit && now - hit.at < 1000) return hit.body;
    const body = httpGet(url, signal, "text/plain;version=0.0.4, */*").then((r) => r.body);
    body.catch(() => this.fetched.delete(url));
    this.fetched.set(url, { at: now, body });
    if (this.fetched.size > 100) this.fetched.delete(this.fetched.keys().next().value as string);
    return body;
  }

  /** The serving instances by service (not warm, of the current revision), read once per second at most. */
  private serving(deps: EngineDeps): Promise<Map<string, Instance[]>> {
    const now = this.now();
    if (this.instances && now - this.instances.at < 1000) return this.instances.list;
    const { project, env } = this.where;
    const list = (async () => {
      const current = await deps.store.currentRevision(project, env);
      const byService = new Map<string, Instance[]>();
      if (!current) return byService;
      for (const i of await deps.store.listInstances(project, env)) {
        if (isWarm(i) || !servesIn(current, i)) continue;
        byService.set(i.service, [...(byService.get(i.service) ?? []), i]);
      }
      return byService;
    })();
    this.instances = { at: now, list };
    return list;
  }

  /** One round: every rule of this interval (every rule without one), a few at a time. */
  async round(intervalMs?: number): Promise<void> {
    await this.loaded;
    const key = intervalMs ?? 0;
    if (this.running.has(key)) return; // the previous round of this interval is still measuring
    this.running.add(key);
    this.fetched.clear(); // a round reads fresh values
    try {
      const due = this.rules.filter((r) => intervalMs === undefined || r.interval === intervalMs);
      const batched = due.filter((r) => PrometheusBatch.batchable(r));
      const single = due.filter((r) => !PrometheusBatch.batchable(r));
      let transitions = await this.evaluateBatch(batched, intervalMs ?? 15_000);
      for (let i = 0; i < single.length; i += PARALLEL)
        for (const t of await Promise.all(single.slice(i, i + PARALLEL).map((r) => this.evaluate(r))))
          transitions ||= t;
      await this.save(transitions);
    } finally {
      this.running.delete(key);
    }
  }

  /** The prometheus rules of a round, one query per server (prometheus-batch.ts). */
  private async evaluateBatch(rules: Rule[], intervalMs: number): Promise<boolean> {
    if (!rules.length) return false;
    const started = this.now();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), Math.min(Math.max(intervalMs, 2000), 30_000));
    let measured: Map<string, Measurement>;
    try {
      measured = await this.batch.measure(rules, ac.signal, this.now);
    } catch (e) {
      measured = new Map(rules.map((r) => [r.name, { error: errorMessage(e), at: this.now() }]));
    } finally {
      clearTimeout(timer);
    }
    const ms = (this.now() - started) / Math.max(1, rules.length);
    let transitions = false;
    for (const r of rules)
      transitions =
        this.apply(r, measured.get(r.name) ?? { error: "not measured", at: this.now() }, ms) || transitions;
    return transitions;
  }

  private async evaluate(rule: Rule): Promise<boolean> {
    const started = this.now();
    const providers = this.providersNow();
    const provider = providers[rule.provider];
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), Math.min(Math.max(rule.interval, 2000), 30_000));
    let m: Measurement;
    try {
      m = provider
        ? await provider.measure(metricOf(rule), { signal: ac.signal, now: this.now })
        : { error: `the ${rule.provider} provider is not available for this target`, at: this.now() };
    } catch (e) {
      m = { error: errorMessage(e), at: this.now() };
    } finally {
      clearTimeout(timer);
    }
    return this.apply(rule, m, this.now() - started);
  }

  /** A measurement into the rule's state; true when its state or health changed. */
  private apply(rule: Rule, m: Measurement, ms: number): boolean {
    if (!this.rules.includes(rule)) return false; // replaced meanwhile
    const prev = this.status.get(rule.name) ?? carryStatus(undefined, rule, this.now());
    const { status, transition } = evaluateRule(rule, prev, m, this.now(), ms);
    this.status.set(rule.name, status);
    if (transition === "fire") this.fire(rule, status);
    if (transition === "resolve") this.resolve(status, status.reason);
    return transition !== undefined || status.health !== prev.health;
  }

  private fire(rule: Rule, s: RuleStatus): void {
    const { project, env } = this.where;
    const pending = rule.for > 0 ? ` for ${formatDuration(rule.for)}` : "";
    this.host.publish(project, env, {
      type: "alert",
      kind: "rule.firing",
      severity: rule.severity,
      ...(rule.service ? { service: rule.service } : {}),
      message:
        `${project} ${env}: rule ${rule.name} firing${rule.summary ? ` (${rule.summary})` : ""}: ` +
        `${s.reason}${pending}`,
      data: {
        rule: rule.name,
        provider: rule.provider,
        query: rule.query,
        value: s.value,
        max: rule.max,
        min: rule.min,
        activeAt: s.activeAt,
        stateful: true,
        labels: { ...rule.labels, rule: rule.name },
      },
    });
  }

  private resolve(s: RuleStatus, reason: string): void {
    const { project, env } = this.where;
    this.host.publish(project, env, {
      type: "alert",
      kind: "rule.resolved",
      severity: "info",
      ...(s.service ? { service: s.service } : {}),
      message: `${project} ${env}: rule ${s.name} resolved: ${reason}`,
      data: { rule: s.name, value: s.value, resolves: "rule.firing", labels: { rule: s.name } },
    });
  }

  private async save(now: boolean): Promise<void> {
    if (!now && this.now() - this.lastSave < SAVE_EVERY_MS) return;
    this.lastSave = this.now();
    const { project, env } = this.where;
    try {
      await this.host.store.setMeta(metaKey(project, env), JSON.stringify(this.statuses()));
    } catch (e) {
      this.host.logger.warn(`rules of ${project}/${env}: could not save their state: ${errorMessage(e)}`);
    }
  }
}
