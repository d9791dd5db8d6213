/** Compose `deploy` (replicas, limits, GPU reservations, restart policy, labels) and the v2 limit keys. */
import { composeSize, isObj, labelsOf, type Obj } from "./values.js";

type Skip = (key: string, why: string) => void;

/** `deploy:` into `out` (replicas, restart, labels) and `resources`. */
export function mapDeploy(deploy: unknown, out: Obj, resources: Obj, skip: Skip): void {
  if (!isObj(deploy)) return;
  for (const [k, v] of Object.entries(deploy)) {
    if (k === "replicas" && typeof v === "number") out.replicas = v;
    else if (k === "resources" && isObj(v)) mapResources(v, resources, skip);
    else if (k === "restart_policy" && isObj(v)) {
      const c = v.condition === "any" ? "always" : v.condition === "none" ? "no" : v.condition;
      if (c === "always" || c === "on-failure" || c === "no") out.restart = { policy: c };
      for (const rk of Object.keys(v))
        if (rk !== "condition") skip(`deploy.restart_policy.${rk}`, "no equivalent");
    } else if (k === "labels") out.labels = { ...(out.labels as Obj), ...labelsOf(v) };
    else skip(`deploy.${k}`, "no equivalent (Slipway's rollout block sets how releases replace each other)");
  }
}

function mapResources(v: Obj, resources: Obj, skip: Skip): void {
  for (const [rk, rv] of Object.entries(v)) {
    if (rk === "limits" && isObj(rv)) {
      for (const [lk, lv] of Object.entries(rv)) {
        if (lk === "memory" && composeSize(lv) !== undefined) resources.memory = composeSize(lv);
        else if (lk === "cpus" && Number(lv) > 0) resources.cpus = Number(lv);
        else skip(`deploy.resources.limits.${lk}`, "no equivalent");
      }
    } else if (rk === "reservations" && isObj(rv)) {
      for (const [lk, lv] of Object.entries(rv)) {
        if (lk === "devices" && Array.isArray(lv)) lv.forEach((d, i) => mapDevice(d, i, resources, skip));
        else skip(`deploy.resources.reservations.${lk}`, "Slipway sets limits, not reservations");
      }
    } else skip(`deploy.resources.${rk}`, "no equivalent");
  }
}

function mapDevice(d: unknown, i: number, resources: Obj, skip: Skip): void {
  const where = `deploy.resources.reservations.devices[${i}]`;
  const gpu =
    isObj(d) && ((Array.isArray(d.capabilities) && d.capabilities.includes("gpu")) || d.driver === "nvidia");
  if (!gpu || !isObj(d)) return skip(where, "only GPUs are mapped");
  if (resources.gpus) return skip(where, "one GPU request per service");
  if (Array.isArray(d.device_ids))
    resources.gpus = { devices: d.device_ids.map((x) => (/^\d+$/.test(String(x)) ? Number(x) : String(x))) };
  else if (d.count === "all") resources.gpus = { count: "all" };
  else resources.gpus = { count: Number(d.count ?? 1) };
  for (const dk of Object.keys(d))
    if (!["capabilities", "driver", "device_ids", "count"].includes(dk))
      skip(`${where}.${dk}`, "no equivalent");
}

/** Compose v2 keys and the older GPU forms (`mem_limit`, `cpus`, `gpus`, `runtime: nvidia`). */
export function mapLegacyLimits(
  s: { memLimit: unknown; cpus: unknown; gpus: unknown; runtime: unknown },
  env: Obj | undefined,
  resources: Obj,
  skip: Skip,
): void {
  if (s.memLimit !== undefined && composeSize(s.memLimit) !== undefined)
    resources.memory ??= composeSize(s.memLimit);
  if (s.cpus !== undefined && Number(s.cpus) > 0) resources.cpus ??= Number(s.cpus);
  if (s.gpus === "all") resources.gpus ??= { count: "all" };
  else if (s.gpus !== undefined) skip("gpus", "use deploy.resources.reservations.devices");
  if (s.runtime === "nvidia" && !resources.gpus) {
    const visible = String(env?.NVIDIA_VISIBLE_DEVICES ?? "all");
    resources.gpus =
      visible === "all"
        ? { count: "all" }
        : { devices: visible.split(",").map((x) => (/^\d+$/.test(x.trim()) ? Number(x) : x.trim())) };
  } else if (s.runtime !== undefined && s.runtime !== "nvidia") skip("runtime", "no equivalent");
}
