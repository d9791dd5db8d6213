/** One upstream of a route as the data plane sees it: address, pool, passive health, counters. */
import type { Slot } from "./contract.js";
import type { Pickable } from "./balancer.js";
import type { RouteTarget, TargetStats } from "./contract.js";
import { LatencyHistogram } from "./histogram.js";
import { UpstreamPool } from "./upstream.js";

/** First ejection lasts this long; each further consecutive failure doubles it, up to the max. */
const EJECT_BASE_MS = 1_000;
const EJECT_MAX_MS = 30_000;
/** Failures other than a refused connection eject only after this many in a row. */
const ERRORS_TO_EJECT = 3;

/** Something that can be closed with a WebSocket "going away" frame when its target drains. */
export interface GoingAway {
  goingAway(): void;
}

export class Target implements Pickable {
  readonly id: string;
  slot: Slot;
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Keep-alive connections to the target. */
  readonly pool: UpstreamPool;
  ejectedUntil = 0;
  private consecutiveFailures = 0;
  private ejectMs = EJECT_BASE_MS;

  requests = 0;
  s1xx = 0;
  s2xx = 0;
  s3xx = 0;
  s4xx = 0;
  s5xx = 0;
  errors = 0;
  inFlight = 0;
  readonly latency = new LatencyHistogram();
  readonly sockets = new Set<GoingAway>();

  draining = false;
  /** Called when in-flight drops to 0 while draining. */
  onIdle: (() => void) | undefined;

  constructor(
    readonly route: string,
    t: RouteTarget,
  ) {
    this.id = t.id;
    this.slot = t.slot;
    this.url = t.url;
    const u = new URL(t.url);
    this.host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
    this.port = u.port ? Number(u.port) : 80;
    this.pool = new UpstreamPool(this.host, this.port);
  }

  /** A finished exchange: `status` is the upstream's status code, or 0 for an error/timeout. */
  done(status: number, ms: number): void {
    this.requests++;
    if (status === 0) this.errors++;
    else if (status < 200) this.s1xx++;
    else if (status < 300) this.s2xx++;
    else if (status < 400) this.s3xx++;
    else if (status < 500) this.s4xx++;
    else this.s5xx++;
    this.latency.record(ms);
  }

  release(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.onIdle) this.onIdle();
  }

  /** The upstream answered: back in good standing. */
  succeeded(): void {
    if (this.consecutiveFailures !== 0) {
      this.consecutiveFailures = 0;
      this.ejectMs = EJECT_BASE_MS;
    }
  }

  /** Passive health. `refused` = nothing listens (or the host is unreachable): eject at once. */
  failed(now: number, refused: boolean): void {
    this.consecutiveFailures++;
    if (refused || this.consecutiveFailures >= ERRORS_TO_EJECT) {
      this.ejectedUntil = now + this.ejectMs;
      this.ejectMs = Math.min(this.ejectMs * 2, EJECT_MAX_MS);
    }
  }

  stats(now: number): TargetStats {
    const statuses: Record<string, number> = {
      "2xx": this.s2xx,
      "3xx": this.s3xx,
      "4xx": this.s4xx,
      "5xx": this.s5xx,
      error: this.errors,
    };
    if (this.s1xx) statuses["1xx"] = this.s1xx;
    return {
      id: this.id,
      route: this.route,
      slot: this.slot,
      requests: this.requests,
      statuses,
      inFlight: this.inFlight,
      latency: {
        p50: this.latency.quantile(0.5),
        p95: this.latency.quantile(0.95),
        p99: this.latency.quantile(0.99),
      },
      latencyBuckets: this.latency.nonEmpty(),
      ejected: this.ejectedUntil > now,
      draining: this.draining,
      websockets: this.sockets.size,
    };
  }
}
