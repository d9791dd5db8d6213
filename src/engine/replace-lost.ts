/**
 * Self-heal, run by the daemon's housekeeping: an instance of the current revision whose
 * supervisor is gone (killed, machine reboot) is replaced and traffic re-routed. Crashes of the
 * app itself are the supervisor's job (restart with backoff); this covers the supervisor.
 */
import type { Instance } from "../drivers/driver.js";
import { errorMessage } from "../errors.js";
import { proxied } from "../spec/defaults.js";
import type { Resolution } from "../spec/resolve.js";
import type { ResolvedService, ResolvedSpec } from "../spec/resolved.js";
import type { Revision } from "../store/store.js";
import type { EngineDeps, HealthOutcome } from "./context.js";
import { liveSpec, MissingVariables } from "./deployed.js";
import type { EventSink } from "./events.js";
import { artifactRevision } from "./run.js";
import { buildRoute, instanceEnv } from "./strategies/common.js";
import { servesIn } from "./carry.js";
import { isWarm } from "./warm.js";

/**
 * Start a fresh stable instance in the place of `old` (same revision, index and artifact) and
 * route to it beside the instances in `live`; `old` must already be stopped and removed.
 * Shared by self-heal (a vanished supervisor) and the scheduled health sweep (a failing probe).
 */
export async function replaceInstance(
  deps: EngineDeps,
  spec: ResolvedSpec,
  current: Revision,
  svc: ResolvedService,
  old: Pick<Instance, "revision" | "version" | "index" | "artifact">,
  live: ReadonlySet<string>,
): Promise<{ rec: Instance; health: HealthOutcome }> {
  const { store, driver } = deps;
  const { project, env } = spec;
  const artRev = artifactRevision(current, svc.name) ?? current.number;
  const artifact = old.artifact
    ? { service: svc.name, revision: artRev, ref: old.artifact }
    : await driver.prepare(project, env, svc, artRev, { existingOnly: true });
  const inst = await driver.start({
    project,
    env,
    service: svc,
    revision: old.revision,
    // A kept (unchanged) service's instance belongs to an older release: its label stays.
    version: old.version,
    slot: "stable",
    index: old.index,
    env_vars: instanceEnv({ ...spec, version: old.version }, svc, old.revision),
    artifact,
  });
  const rec: Instance = { ...inst, slot: "stable", artifact: artifact.ref };
  await store.putInstance(rec);
  const health = await deps.health(svc, rec);
  if (proxied(svc)) {
    const serving = (await store.listInstances(project, env)).filter(
      (i) => i.service === svc.name && !isWarm(i) && (live.has(i.id) || i.id === rec.id),
    );
    await (await deps.router()).setRoute(buildRoute(spec, svc, serving));
  }
  return { rec, health };
}

export async function replaceLostInstances(
  deps: EngineDeps,
  project: string,
  env: string,
  latest: Resolution | undefined,
  emit: EventSink,
  inspected?: readonly Instance[],
): Promise<string[]> {
  const { store, driver } = deps;
  const current = await store.currentRevision(project, env);
  if (!current) return [];
  const records = await store.listInstances(project, env);
  const live = new Set((inspected ?? (await driver.inspect(project, env))).map((i) => i.id));
  const ghosts = records.filter((r) => !live.has(r.id));
  if (!ghosts.length) return [];
  let spec;
  try {
    spec = liveSpec(current, latest);
  } catch (e) {
    if (!(e instanceof MissingVariables)) throw e;
    // Never start a replacement with empty values or the daemon's own: refuse, and say why.
    emit({
      type: "alert",
      kind: "heal.refused",
      severity: "critical",
      message: `${project} ${env}: ${ghosts.length} lost instance(s) not replaced: ${e.message}`,
      data: { missing: e.variables, revision: current.number },
    });
    return [];
  }
  const replaced: string[] = [];
  for (const ghost of ghosts) {
    await store.removeInstance(project, env, ghost.id);
    const svc = spec.services[ghost.service];
    if (isWarm(ghost) || !svc || !servesIn(current, ghost)) continue;
    try {
      const { rec, health: h } = await replaceInstance(deps, spec, current, svc, ghost, live);
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
