/**
 * What `slipway scale` leaves behind: per service, the replica count it set and the spec's count
 * at that time (a revision-less record in the store's meta area, beside an event in history).
 *
 * The rule for the next deploy: the scaled count is kept as long as the spec still says what it
 * said when the service was scaled; a spec that changes `replicas` wins (someone decided on a new
 * number and wrote it down) and the record is dropped. An operator who scaled up for a traffic
 * peak is not scaled back down by an unrelated deploy, and the file stays the source of truth.
 */
import type { Resolution } from "../spec/resolve.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import type { Store } from "../store/store.js";

export interface ScaleEntry {
  /** The count `slipway scale` set. */
  replicas: number;
  /** The spec's `replicas` when it was set: a deploy whose spec says otherwise drops the entry. */
  specReplicas: number;
  at: string;
  actor: string;
}
export type ScaleRecord = Record<string, ScaleEntry>;

const key = (project: string, env: string) => `scale/${project}/${env}`;

export async function readScale(store: Store, project: string, env: string): Promise<ScaleRecord> {
  const raw = await store.getMeta(key(project, env));
  if (!raw) return {};
  try {
    return JSON.parse(raw) as ScaleRecord;
  } catch {
    return {};
  }
}

export async function writeScale(
  store: Store,
  project: string,
  env: string,
  rec: ScaleRecord,
): Promise<void> {
  await store.setMeta(key(project, env), JSON.stringify(rec));
}

/**
 * A spec with the scaled counts that still hold, and the services whose entry no longer does
 * (their spec changed `replicas`, or they left the spec).
 */
export function withScale(
  spec: ResolvedSpec,
  rec: ScaleRecord,
): { spec: ResolvedSpec; kept: Record<string, number>; stale: string[] } {
  const kept: Record<string, number> = {};
  const stale: string[] = [];
  for (const [name, e] of Object.entries(rec)) {
    const svc = spec.services[name];
    if (!svc || svc.replicas !== e.specReplicas || svc.autoscale) stale.push(name);
    else if (e.replicas !== svc.replicas) kept[name] = e.replicas;
  }
  if (!Object.keys(kept).length) return { spec, kept, stale };
  const services = { ...spec.services };
  for (const [name, n] of Object.entries(kept)) services[name] = { ...services[name], replicas: n };
  return { spec: { ...spec, services }, kept, stale };
}

/** The resolution a deploy runs: the scaled counts applied (the stored snapshot keeps the spec's). */
export async function scaledResolution(
  store: Store,
  resolution: Resolution,
): Promise<{ resolution: Resolution; kept: Record<string, number>; stale: string[] }> {
  const { project, env } = resolution.spec;
  const r = withScale(resolution.spec, await readScale(store, project, env));
  return { resolution: { ...resolution, spec: r.spec }, kept: r.kept, stale: r.stale };
}

/** After a deploy succeeded: forget the entries its spec overruled. */
export async function dropStale(store: Store, project: string, env: string, stale: string[]): Promise<void> {
  if (!stale.length) return;
  const rec = await readScale(store, project, env);
  for (const n of stale) delete rec[n];
  await writeScale(store, project, env, rec);
}
