/**
 * Self-heal, run by the daemon's housekeeping: an instance of the current revision whose
 * supervisor is gone (killed, machine reboot) is replaced and traffic re-routed. Crashes of the
 * app itself are the supervisor's job (restart with backoff); this covers the supervisor.
 */
import type { Instance } from "../drivers/driver.js";
import { errorMessage } from "../errors.js";
import { proxied } from "../spec/defaults.js";
import { rehydrate, type Resolution } from "../spec/resolve.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import type { EngineDeps } from "./context.js";
import type { EventSink } from "./events.js";
import { artifactRevision } from "./run.js";
import { buildRoute, instanceEnv } from "./strategies/common.js";
import { isWarm } from "./warm.js";

export async function heal(
  deps: EngineDeps,
  project: string,
  env: string,
  latest: Resolution | undefined,
  emit: EventSink,
): Promise<string[]> {
  const { store, driver } = deps;
  const current = await store.currentRevision(project, env);
  if (!current) return [];
  const records = await store.listInstances(project, env);
  const live = new Set((await driver.inspect(project, env)).map((i) => i.id));
  const ghosts = records.filter((r) => !live.has(r.id));
  if (!ghosts.length) return [];
  // The values (secrets) of the last operation when it deployed this version, else the stored
  // snapshot re-hydrated from the daemon's own environment.
  const spec: ResolvedSpec =
    latest &&
    latest.spec.project === project &&
    latest.spec.env === env &&
    latest.spec.version === current.version
      ? latest.spec
      : rehydrate(current.snapshot as ResolvedSpec, {
          ...process.env,
          ...Object.fromEntries(latest?.secrets ?? []),
        });
  const replaced: string[] = [];
  for (const ghost of ghosts) {
    await store.removeInstance(project, env, ghost.id);
    const svc = spec.services[ghost.service];
    if (isWarm(ghost) || !svc || ghost.revision !== current.number) continue;
    try {
      const artRev = artifactRevision(current, svc.name) ?? current.number;
      const artifact = ghost.artifact
        ? { service: svc.name, revision: artRev, ref: ghost.artifact }
        : await driver.prepare(project, env, svc, artRev, { existingOnly: true });
      const inst = await driver.start({
        project,
        env,
        service: svc,
        revision: ghost.revision,
        version: spec.version,
        slot: "stable",
        index: ghost.index,
        env_vars: instanceEnv(spec, svc, ghost.revision),
        artifact,
      });
      const rec: Instance = { ...inst, slot: "stable", artifact: artifact.ref };
      await store.putInstance(rec);
      const h = await deps.health(svc, rec);
      if (proxied(svc)) {
        const serving = (await store.listInstances(project, env)).filter(
          (i) => i.service === svc.name && !isWarm(i) && (live.has(i.id) || i.id === rec.id),
        );
        await (await deps.router()).setRoute(buildRoute(spec, svc, serving));
      }
      replaced.push(ghost.id);
      emit({
        type: "alert",
        kind: "instance.replaced",
        severity: "warning",
        service: svc.name,
        revision: current.number,
        message: `${project} ${env}: ${ghost.id} was gone; started ${rec.id}${h.healthy ? "" : ` (not healthy yet: ${h.message})`}`,
      });
    } catch (e) {
      emit({
        type: "alert",
        kind: "instance.lost",
        severity: "critical",
        service: ghost.service,
        revision: current.number,
        message: `${project} ${env}: ${ghost.id} is gone and could not be replaced: ${errorMessage(e)}`,
      });
    }
  }
  return replaced;
}
