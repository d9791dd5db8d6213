/**
 * Helm hooks, run in phases as `helm install|upgrade|rollback` and Argo CD run them: a chart's
 * objects annotated `helm.sh/hook` are not applied with the others. The hooks of a phase run one
 * at a time in `helm.sh/hook-weight` order (then helm's kind order, then name); a Job is waited on
 * until Complete (a Pod until Succeeded), and a failed one fails the phase with the Job's reason
 * and its pod's log tail. `helm.sh/hook-delete-policy` is honoured (before-hook-creation when none
 * is given, hook-succeeded, hook-failed). Test hooks (`helm.sh/hook: test`) never run on deploy.
 */
import type { KubernetesObject, V1Job, V1Pod } from "@kubernetes/client-node";
import { DriverError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { inApplyOrder, labelled, refOf, ROLE, ROLES, type ObjectRef } from "./chart-objects.js";
import { orUndefined, type Cluster } from "./cluster.js";
import type { Owner } from "./manifests/names.js";
import { jobPod, outputOf } from "./run-job.js";

export const HOOK = {
  hook: "helm.sh/hook",
  weight: "helm.sh/hook-weight",
  deletePolicy: "helm.sh/hook-delete-policy",
} as const;

/** What a chart's objects are applied for: a first install, an upgrade, or a rollback. */
export type HookEvent = "install" | "upgrade" | "rollback";
/** helm's own limit for a hook (`--timeout`, 5m by default). */
export const HOOK_TIMEOUT_MS = 5 * 60_000;

const list = (v: string | undefined) =>
  (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

export const hookTypes = (o: KubernetesObject) => list(o.metadata?.annotations?.[HOOK.hook]);
export const isHook = (o: KubernetesObject) => hookTypes(o).length > 0;
const weightOf = (o: KubernetesObject) => Number(o.metadata?.annotations?.[HOOK.weight] ?? 0) || 0;

/** The hooks of one phase (`pre-install`, `post-upgrade`, …) in the order helm runs them. */
export function hooksOf(objects: KubernetesObject[], phase: string): KubernetesObject[] {
  const of = objects.filter((o) => hookTypes(o).includes(phase));
  const kindOrder = new Map(inApplyOrder(of).map((o, i) => [o, i]));
  return of.sort(
    (a, b) =>
      weightOf(a) - weightOf(b) ||
      (kindOrder.get(a) ?? 0) - (kindOrder.get(b) ?? 0) ||
      String(a.metadata?.name).localeCompare(String(b.metadata?.name)),
  );
}

/** Which hooks a start runs: none when the applied objects are the same artifact again. */
export function hookEvent(
  before: { revision: number; artifact: number } | undefined,
  req: { revision: number; artifact: { revision: number } },
): HookEvent | undefined {
  if (!before) return "install";
  if (before.artifact === req.artifact.revision) return undefined; // a restart, a re-apply
  // Going back: an undo after a failed deploy (an older revision), or `slipway rollback` (a new
  // revision that re-applies an older revision's rendered objects).
  if (req.revision < before.revision || req.artifact.revision !== req.revision) return "rollback";
  return "upgrade";
}

export interface HookContext {
  c: Cluster;
  owner: Owner;
  revision: number;
  version: string;
  logger: Logger;
  timeoutMs?: number;
}

/** Run a phase's hooks in order; returns the hook objects left on the cluster. Throws on failure. */
export async function runHooks(
  ctx: HookContext,
  objects: KubernetesObject[],
  phase: string,
): Promise<ObjectRef[]> {
  const kept: ObjectRef[] = [];
  for (const o of hooksOf(objects, phase)) {
    const left = await runHook(ctx, o, phase);
    if (left) kept.push(left);
  }
  return kept;
}

const header = (r: ObjectRef, ns: string) => ({
  apiVersion: r.apiVersion,
  kind: r.kind,
  metadata: { name: r.name, namespace: r.namespace ?? ns },
});

async function remove(c: Cluster, r: ObjectRef): Promise<void> {
  const h = header(r, c.namespace);
  await orUndefined(c.objects.delete(h, undefined, undefined, undefined, undefined, "Background"));
  // Like helm's before-hook-creation: wait until the old object is really gone.
  const until = Date.now() + 60_000;
  while ((await orUndefined(c.objects.read(h))) && Date.now() < until)
    await new Promise((res) => setTimeout(res, 200));
}

async function runHook(ctx: HookContext, o: KubernetesObject, phase: string): Promise<ObjectRef | undefined> {
  const { c, logger } = ctx;
  const policies = list(o.metadata?.annotations?.[HOOK.deletePolicy]);
  if (!policies.length) policies.push("before-hook-creation");
  const obj = labelled(o, ctx.owner, ctx.revision, ctx.version);
  obj.metadata = { ...obj.metadata, labels: { ...obj.metadata?.labels, [ROLE]: ROLES.hook } };
  const ref = refOf(obj);
  const what = `${phase} hook ${ref.kind.toLowerCase()}/${ref.name}`;
  if (policies.includes("before-hook-creation")) await remove(c, ref);
  await c.apply(obj);
  const failed = await waitFor(c, ref, ctx.timeoutMs ?? HOOK_TIMEOUT_MS);
  if (failed !== undefined) {
    if (policies.includes("hook-failed")) await remove(c, ref);
    throw new DriverError("kubernetes", `${ctx.owner.service}: ${what} failed: ${failed}`);
  }
  logger.info(
    `${ctx.owner.service}: ${what} ${ref.kind === "Job" || ref.kind === "Pod" ? "completed" : "applied"}`,
  );
  if (policies.includes("hook-succeeded")) {
    await remove(c, ref);
    return undefined;
  }
  return ref;
}

/** Wait for a Job or Pod hook to finish (other kinds are done once applied): undefined, or why it failed. */
async function waitFor(c: Cluster, ref: ObjectRef, timeoutMs: number): Promise<string | undefined> {
  if (ref.kind !== "Job" && ref.kind !== "Pod") return undefined;
  const ns = ref.namespace ?? c.namespace;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (ref.kind === "Job") {
      const j = (await orUndefined(c.batch.readNamespacedJob({ name: ref.name, namespace: ns }))) as
        V1Job | undefined;
      const cond = (t: string) => j?.status?.conditions?.find((x) => x.type === t && x.status === "True");
      if (cond("Complete")) return undefined;
      const bad = cond("Failed");
      if (bad)
        return `${[bad.reason, bad.message].filter(Boolean).join(": ") || "Failed"}${await logTail(c, ref.name)}`;
    } else {
      const p = (await orUndefined(c.core.readNamespacedPod({ name: ref.name, namespace: ns }))) as
        V1Pod | undefined;
      if (p?.status?.phase === "Succeeded") return undefined;
      if (p?.status?.phase === "Failed") return `pod Failed${await podLogTail(c, ns, ref.name)}`;
    }
    if (Date.now() > deadline) return `not finished after ${Math.round(timeoutMs / 1000)}s`;
    await new Promise((res) => setTimeout(res, 200));
  }
}

const tail = (log: string) => {
  const lines = log.trimEnd().split("\n").slice(-20).join("\n");
  return lines ? `\n--- log tail ---\n${lines}` : "";
};

async function logTail(c: Cluster, job: string): Promise<string> {
  const pod = await jobPod(c, job);
  const exit = pod?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode;
  return `${exit !== undefined ? ` (exit code ${exit})` : ""}${tail(await outputOf(c, job))}`;
}

async function podLogTail(c: Cluster, namespace: string, name: string): Promise<string> {
  return tail(String((await orUndefined(c.core.readNamespacedPodLog({ name, namespace }))) ?? ""));
}
