/**
 * The messages between the proxy's primary process and its worker processes (node:cluster IPC,
 * JSON). Every request carries an id; the worker answers each with the same id.
 */
import type { CertPem } from "./acme.js";
import type { Route } from "./contract.js";
import type { MetricTarget } from "./metrics.js";

export type WorkerRequest =
  | { op: "init"; routes: Route[]; certs: [string, CertPem][]; tokens: [string, string][] }
  | { op: "set"; route: Route }
  | { op: "remove"; key: string }
  | { op: "stats" }
  | { op: "info" }
  | { op: "waitDrained"; targets: string[]; timeoutMs: number }
  | { op: "cert"; route: string; pem: CertPem }
  | { op: "token"; token: string; keyAuth?: string }
  | { op: "close"; graceful: boolean; timeoutMs?: number };

export type ToWorker = WorkerRequest & { id: number };

/** A worker's answer: a value, a refusal (status as on the control API), or the worker is gone. */
export type WorkerReply =
  { id: number; ok: true; value?: unknown } | { id: number; ok: false; status: number; error: string };

export type FromWorker = { ready: true } | WorkerReply;

/** What a worker answers to "stats". */
export type WorkerStats = MetricTarget[];

/** Per worker process, in `GET /health` (several worker processes only). */
export interface WorkerInfo {
  pid: number;
  requests: number;
}

/** How many worker processes: SLIPWAY_PROXY_WORKERS, a whole number ≥ 1 or "auto" (the CPU count). */
export function proxyWorkers(value: string | undefined, cpus: number): number {
  const v = value?.trim() ?? "";
  if (v === "" || v === "1") return 1;
  if (v === "auto") return Math.max(1, cpus);
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new Error(
      `SLIPWAY_PROXY_WORKERS must be a whole number from 1 to 64 or "auto" (the CPU count), got ${JSON.stringify(value)}`,
    );
  return n;
}
