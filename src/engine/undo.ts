/** The compensating plan: after a failed step, every service the run changed goes back, newest first. */
import { errorMessage, OperationFailed } from "../errors.js";
import { proxied } from "../spec/defaults.js";
import type { Resolution } from "../spec/resolve.js";
import { readableSpec, restartableSpec } from "./deployed.js";
import type { ResolvedService, ResolvedSpec } from "../spec/resolved.js";
import type { Revision } from "../store/store.js";
import { artifactRevision } from "./artifacts.js";
import type { EngineDeps } from "./context.js";
import type { EventSink } from "./events.js";
import type { StepExecutor } from "./steps/executor.js";
import {
  gateHealthy,
  routeKey,
  routeTo,
  startSlot,
  stopInstances,
  type RolloutRequest,
  type RolloutState,
} from "./strategies/common.js";

export interface UndoResult {
  service: string;
  ok: boolean;
  message: string;
}

/** undo() one service at a time, each journaled (and shown) as an `undo` step after the plan's. */
export async function undoJournaled(
  executor: StepExecutor,
  firstSeq: number,
  states: RolloutState[],
  ctx: { deps: EngineDeps; spec: ResolvedSpec; current?: Revision; resolution: Resolution; emit: EventSink },
): Promise<UndoResult[]> {
  const { deps, spec, emit } = ctx;
  const steps = [...states].reverse().map((st, i) => ({
    seq: firstSeq + i,
    kind: "undo",
    service: st.service,
    description: `undo ${st.service}`,
    state: st,
  }));
  await executor.pending(steps);
  const out: UndoResult[] = [];
  for (const s of steps) {
    await executor
      .run(s, async () => {
        // undo()'s own success line would repeat this step's message; its errors still show.
        const quiet: EventSink = (e) => {
          if (!(e.type === "log" && e.level === "warn")) emit(e);
        };
        const [r] = await undo(deps, spec, [s.state], ctx.current, ctx.resolution, quiet);
        out.push(r);
        if (!r.ok) throw new OperationFailed(r.message);
        return r.message;
      })
      .catch(() => {}); // recorded as a failed step and in the result; the next service still goes back
  }
  return out;
}

/** The compensating plan: put every changed service back as it was, in reverse order. */
export async function undo(
  deps: EngineDeps,
  spec: ResolvedSpec,
  states: RolloutState[],
  previous: Revision | undefined,
  resolution: Resolution,
  emit: EventSink,
): Promise<UndoResult[]> {
  const out: UndoResult[] = [];
  // Only what restarts needs a value (lazily: undoing a switch of traffic needs none).
  const restarts = states.filter((st) => st.oldStopped).map((st) => st.service);
  const prevSpec =
    previous && restarts.length ? restartableSpec(previous, restarts, resolution.secrets) : undefined;
  for (const st of [...states].reverse()) {
    const svc = spec.services[st.service];
    try {
      if (!st.oldStopped && st.old.length) {
        // The old slot is still running: send traffic back to it, drop the candidates. The route
        // is the running release's (its port, domains, certificate), not the failed spec's.
        const back = previousRoute(previous, st.service, resolution) ?? { spec, svc };
        await routeTo(stubReq(deps, back.spec, back.svc), st.old);
        const kept = await stopInstances(deps, svc, st.fresh, "failed");
        out.push({
          service: st.service,
          ok: true,
          message: `traffic back on the previous instances${keptNote(spec, st, kept, deps.driver.name)}`,
        });
      } else if (st.oldStopped && prevSpec?.services[st.service] && previous) {
        const kept = await stopInstances(deps, svc, st.fresh, "failed");
        const prevSvc = { ...prevSpec.services[st.service], path: prevSpec.services[st.service].path };
        const artRev = artifactRevision(previous, st.service) ?? previous.number;
        const records = previous.facts.artifactRecords as Record<string, Record<string, unknown>> | undefined;
        const artifact = await deps.driver.prepare(spec.project, spec.env, prevSvc, artRev, {
          existingOnly: true,
          ...(records?.[st.service] ? { recorded: records[st.service] } : {}),
        });
        const req: RolloutRequest = {
          ...stubReq(deps, { ...prevSpec, version: previous.version }, prevSvc),
          artifact,
          revision: previous.number,
        };
        const restored = await startSlot(req, "stable", previous.number);
        await gateHealthy(req, restored);
        await routeTo(req, restored);
        out.push({
          service: st.service,
          ok: true,
          message: `restarted revision ${previous.number}${keptNote(spec, st, kept, deps.driver.name)}`,
        });
      } else {
        // A first deploy: nothing to go back to.
        if (proxied(svc)) await (await deps.router()).removeRoute(routeKey(spec, svc.name));
        const kept = await stopInstances(deps, svc, st.fresh, "failed");
        out.push({
          service: st.service,
          ok: true,
          message: `new instances stopped (no previous revision)${keptNote(spec, st, kept, deps.driver.name)}`,
        });
      }
      emit({
        type: "log",
        level: "warn",
        service: st.service,
        message: `${st.service}: ${out[out.length - 1].message}`,
      });
    } catch (e) {
      out.push({ service: st.service, ok: false, message: errorMessage(e) });
      emit({
        type: "log",
        level: "error",
        service: st.service,
        message: `${st.service}: undo failed: ${errorMessage(e)}`,
      });
    }
  }
  return out;
}

/** Where the logs of the failed instances are still to be read (the driver kept them stopped). */
function keptNote(spec: ResolvedSpec, st: RolloutState, kept: string[], driver: string): string {
  if (!kept.length) return "";
  const rev = st.fresh[0]?.revision;
  const docker = driver === "docker" ? `, or docker logs ${kept[0]}` : "";
  return (
    `; failed instance(s) kept stopped: ${kept.join(", ")}` +
    ` (slipway logs ${spec.env} ${st.service} --revision ${rev}${docker})`
  );
}

/** The service as the deployed revision routes it (no secret needed); undefined: use the new spec's. */
function previousRoute(
  previous: Revision | undefined,
  service: string,
  resolution: Resolution,
): { spec: ResolvedSpec; svc: ResolvedService } | undefined {
  if (!previous) return undefined;
  try {
    const prev = readableSpec(previous, resolution.secrets);
    const svc = prev.services[service];
    return svc && proxied(svc) ? { spec: prev, svc } : undefined;
  } catch {
    return undefined; // a snapshot that cannot be read: the new spec's route, as before
  }
}

function stubReq(deps: EngineDeps, spec: ResolvedSpec, svc: ResolvedService): RolloutRequest {
  return {
    deps,
    spec,
    svc,
    revision: 0,
    artifact: { service: svc.name, revision: 0, ref: "" },
    old: [],
    emit: () => {},
    record: async () => {},
  };
}
