/** The one place that turns a service's `health:` settings into a Probe. */
import { SpecError } from "../errors.js";
import type { Health } from "../spec/schema.js";
import { ExecProbe } from "./exec.js";
import { HttpProbe } from "./http.js";
import { PostgresProbe } from "./postgres.js";
import type { Probe, ProbeResult, ProbeTarget } from "./probe.js";
import { RedisProbe } from "./redis.js";
import { TcpProbe } from "./tcp.js";

/** Several probes that must all pass (e.g. `{ http: /health, exec: ./check-queue.sh }`). */
export class AllProbe implements Probe {
  readonly kind: string;
  constructor(readonly probes: Probe[]) {
    this.kind = probes.map((p) => p.kind).join("+");
  }

  async check(target: ProbeTarget, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<ProbeResult> {
    const started = performance.now();
    const results = await Promise.all(this.probes.map((p) => p.check(target, opts)));
    // Each message under its own probe's kind: the failed ones when any failed, else all.
    const named = results.map((r, i) => ({ ok: r.ok, text: `${this.probes[i].kind}: ${r.message}` }));
    const failed = named.filter((r) => !r.ok);
    return {
      ok: failed.length === 0,
      message: (failed.length ? failed : named).map((r) => r.text).join("; "),
      durationMs: performance.now() - started,
    };
  }
}

/**
 * Builds the probe for a service's health settings. Every kind key given must pass.
 * Throws SpecError when none is given.
 */
export function createProbe(health: Health, where = "health"): Probe {
  const probes: Probe[] = [];
  if (health.http !== undefined) probes.push(new HttpProbe(health.http, health.expectStatus));
  if (health.tcp) probes.push(new TcpProbe());
  if (health.exec !== undefined) probes.push(new ExecProbe(health.exec));
  if (health.postgres !== undefined) probes.push(new PostgresProbe(health.postgres));
  if (health.redis !== undefined) probes.push(new RedisProbe(health.redis));
  if (probes.length === 0) {
    throw new SpecError([
      { path: where, message: "a health check needs one of http, tcp: true, exec, postgres or redis" },
    ]);
  }
  return probes.length === 1 ? probes[0] : new AllProbe(probes);
}
