/** The probe contract: one kind of health check against one instance. */
export interface ProbeTarget {
  host: string;
  port?: number;
  /** Working directory and environment for exec probes. */
  cwd?: string;
  env?: Record<string, string>;
}

export interface ProbeResult {
  ok: boolean;
  /** Evidence: "HTTP 200 in 3ms", "connect ECONNREFUSED 127.0.0.1:4000" … */
  message: string;
  durationMs: number;
}

export interface Probe {
  readonly kind: string;
  check(target: ProbeTarget, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<ProbeResult>;
}
