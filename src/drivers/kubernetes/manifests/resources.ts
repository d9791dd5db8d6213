/** `resources` as container limits and requests, in Kubernetes quantities. */
import type { V1ResourceRequirements } from "@kubernetes/client-node";
import type { ResolvedService } from "../../../spec/resolved.js";

/** Cores as millicores ("500m"); whole cores stay plain ("2"). */
export function cpuQuantity(cores: number): string {
  const milli = Math.round(cores * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

/** Bytes in the largest binary unit that divides them (512Mi, 2Gi), else plain bytes. */
export function memoryQuantity(bytes: number): string {
  for (const [unit, n] of [
    ["Gi", 1024 ** 3],
    ["Mi", 1024 ** 2],
    ["Ki", 1024],
  ] as const)
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  return String(Math.round(bytes));
}

export function resourcesFor(svc: ResolvedService): V1ResourceRequirements | undefined {
  const r = svc.resources;
  if (!r) return undefined;
  const limits: Record<string, string> = {};
  if (r.cpus !== undefined) limits.cpu = cpuQuantity(r.cpus);
  if (r.memory !== undefined) limits.memory = memoryQuantity(r.memory);
  if (r.gpus && "count" in r.gpus && r.gpus.count !== "all") limits["nvidia.com/gpu"] = String(r.gpus.count);
  if (r.gpus && "devices" in r.gpus) limits["nvidia.com/gpu"] = String(r.gpus.devices.length);
  const requests: Record<string, string> = {};
  if (r.requests?.cpus !== undefined) requests.cpu = cpuQuantity(r.requests.cpus);
  if (r.requests?.memory !== undefined) requests.memory = memoryQuantity(r.requests.memory);
  if (!Object.keys(limits).length && !Object.keys(requests).length) return undefined;
  return {
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(Object.keys(requests).length ? { requests } : {}),
  };
}
