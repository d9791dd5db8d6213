/**
 * A service's `health` as Kubernetes probes: readiness gates traffic (and Slipway's health gate,
 * which waits on it), liveness restarts a hung container, and a startup probe gives a slow start
 * the service's `startTimeout` before liveness counts.
 */
import type { V1Probe } from "@kubernetes/client-node";
import type { ResolvedService } from "../../../spec/resolved.js";

const seconds = (ms: number, min = 1) => Math.max(min, Math.ceil(ms / 1000));

/** How the probe asks; undefined when the service declares nothing a kubelet can run. */
function handler(svc: ResolvedService, port: number | undefined): Partial<V1Probe> | undefined {
  const h = svc.health;
  if (h?.http !== undefined && port !== undefined) return { httpGet: { path: h.http, port } };
  if (h?.exec !== undefined) return { exec: { command: ["/bin/sh", "-c", h.exec] } };
  // tcp, postgres and redis probes, or nothing declared on a service with a port: the port accepts.
  if (port !== undefined) return { tcpSocket: { port } };
  return undefined;
}

export interface Probes {
  readinessProbe?: V1Probe;
  livenessProbe?: V1Probe;
  startupProbe?: V1Probe;
}

export function probesFor(svc: ResolvedService, port: number | undefined): Probes {
  const how = handler(svc, port);
  if (!how) return {};
  const h = svc.health;
  const period = seconds(h?.interval ?? 2000);
  const timing = {
    periodSeconds: period,
    timeoutSeconds: seconds(h?.timeout ?? 2000),
    failureThreshold: h?.unhealthyThreshold ?? 3,
  };
  return {
    readinessProbe: {
      ...how,
      ...timing,
      ...(h?.startPeriod ? { initialDelaySeconds: seconds(h.startPeriod, 0) } : {}),
      successThreshold: h?.healthyThreshold ?? 1,
    },
    livenessProbe: { ...how, ...timing, successThreshold: 1 },
    startupProbe: {
      ...how,
      periodSeconds: period,
      timeoutSeconds: timing.timeoutSeconds,
      successThreshold: 1,
      failureThreshold: Math.max(1, Math.ceil((h?.startTimeout ?? 60_000) / (period * 1000))),
    },
  };
}
