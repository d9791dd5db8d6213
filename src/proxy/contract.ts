/**
 * The traffic contract between the engine and the data plane. For process and Docker
 * targets it is the Slipway proxy (a separate process, src/proxy/); a Kubernetes target
 * implements it with Service selectors.
 */

/** Which slot a target serves (the same names as the driver contract's slots). */
export type Slot = "stable" | "candidate";

export interface RouteTarget {
  /** Instance id. */
  id: string;
  slot: Slot;
  /** Upstream, e.g. http://127.0.0.1:41234 */
  url: string;
}

/** Where a route's certificate comes from: PEM files (re-read when they change) or ACME. */
export type EdgeTls = { cert: string; key: string } | { acme: { email: string; directory?: string } };

/**
 * Host routing on the machine's shared listeners: every route naming the same (address, port)
 * shares one listener and is reached by its domains (Host header, SNI on HTTPS).
 */
export interface RouteEdge {
  domains: string[];
  /** The shared plain-HTTP listener. */
  http?: { host: string; port: number };
  /** The shared HTTPS listener (HTTP/2 and HTTP/1.1 by ALPN); needs `tls`. */
  https?: { host: string; port: number };
  tls?: EdgeTls;
  /** Answer plain HTTP with a redirect to HTTPS once a certificate is available. */
  redirectHttp: boolean;
  /** Strict-Transport-Security max-age in seconds on HTTPS answers; 0 = no header. */
  hstsSeconds: number;
  /** The listeners expect a PROXY protocol (v1 or v2) header on every connection. */
  proxyProtocol: boolean;
}

export interface Route {
  /** `${project}/${env}/${service}` */
  key: string;
  /** The service's own public port. */
  listen: { host: string; port: number };
  /** Domains on the shared listeners, besides `listen`. */
  edge?: RouteEdge;
  targets: RouteTarget[];
  /** Percent of requests sent to the candidate slot (0–100). 0 = all to stable. */
  candidateWeight: number;
  /** Keep a client on the slot it first reached, by cookie. */
  sticky: boolean;
  /** Time in-flight requests of removed targets may take to finish. */
  drainTimeoutMs: number;
  /** Time an upstream has to start answering. */
  responseTimeoutMs: number;
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
}

export interface TargetStats {
  id: string;
  route: string;
  slot: Slot;
  requests: number;
  /** Count by status class: "2xx", "3xx", "4xx", "5xx", and "error" for connection failures / timeouts. */
  statuses: Record<string, number>;
  inFlight: number;
  /** Milliseconds. */
  latency: LatencySummary;
  /**
   * The latency histogram behind `latency`, cumulative: [bucket index, count] for non-empty
   * buckets, bucket i = [0.01 · 1.04^i, 0.01 · 1.04^(i+1)) ms. Two snapshots give a window's
   * percentiles (the Slipway proxy sets it).
   */
  latencyBuckets?: [number, number][];
  /** Passive health: the proxy took the target out after failed requests. */
  ejected: boolean;
  /** Removed from its route and finishing its in-flight requests (the Slipway proxy sets it). */
  draining?: boolean;
  /** Open WebSocket connections through the proxy (the Slipway proxy sets it). */
  websockets?: number;
}

export interface TrafficRouter {
  /** Make sure the data plane runs (spawn it if needed) and answers. */
  ensureRunning(): Promise<void>;
  /** Atomically replace a route. Targets no longer listed are drained, then forgotten. */
  setRoute(route: Route): Promise<void>;
  removeRoute(key: string): Promise<void>;
  getRoutes(): Promise<Route[]>;
  /** Stats for all targets (cumulative counters since the target was added). */
  stats(): Promise<TargetStats[]>;
  /** Resolves when the given targets have no request in flight, or after timeoutMs. */
  waitDrained(targetIds: string[], timeoutMs: number): Promise<{ drained: boolean; inFlight: number }>;
}

/** The proxy process as its control channel drives it (implemented in server.ts). */
export interface ProxyServer {
  readonly socketPath: string;
  /** Validate and apply a route atomically; resolves once its listener is bound and the snapshot written. */
  setRoute(route: Route): Promise<void>;
  removeRoute(key: string): Promise<void>;
  getRoutes(): Route[];
  stats(): TargetStats[] | Promise<TargetStats[]>;
  waitDrained(targetIds: string[], timeoutMs: number): Promise<{ drained: boolean; inFlight: number }>;
  metrics(): string | Promise<string>;
  /** Per worker process (several worker processes only): its pid and requests answered. */
  workers?(): Promise<{ pid: number; requests: number }[]>;
  /**
   * Stop. Graceful: stop accepting, let in-flight requests finish (up to the longest route
   * drain timeout, or `timeoutMs`), close WebSockets with 1001, then close everything.
   */
  close(opts?: { graceful?: boolean; timeoutMs?: number }): Promise<void>;
}
