/** Which release artifact each service of a revision runs, and the pruning of the ones no longer kept. */
import type { ResolvedSpec } from "../spec/resolved.js";
import type { Revision } from "../store/store.js";
import type { EngineDeps } from "./context.js";

/** Which revision's artifact a service uses in a revision (rollbacks reuse the original one). */
export function artifactRevision(rev: Revision | undefined, service: string): number | undefined {
  if (!rev) return undefined;
  const a = rev.facts.artifacts?.[service];
  return a ?? rev.number;
}

/**
 * Remove release artifacts (release dirs, image tags) beyond each service's `retain` earlier
 * releases; the current one and the releases of live instances are always kept.
 */
export async function pruneArtifacts(
  deps: EngineDeps,
  spec: ResolvedSpec,
  revision: number,
  retainOverride?: number,
): Promise<void> {
  const revs = await deps.store.listRevisions(spec.project, spec.env, { limit: 50 });
  const live = await deps.store.listInstances(spec.project, spec.env);
  for (const svc of Object.values(spec.services)) {
    const current = revs.find((r) => r.number === revision);
    const keep = new Set<number>([artifactRevision(current, svc.name) ?? revision]);
    for (const i of live) if (i.service === svc.name) keep.add(i.revision);
    const retain = retainOverride ?? svc.retain;
    for (const r of revs) {
      if (keep.size > retain) break;
      if (r.status === "deployed" || r.status === "superseded") {
        const a = artifactRevision(r, svc.name);
        if (a !== undefined) keep.add(a);
      }
    }
    // Retired instances (Docker's stopped containers) of as many revisions as artifacts are kept.
    await deps.driver.prune(spec.project, spec.env, svc.name, [...keep], { retired: retain });
  }
}
