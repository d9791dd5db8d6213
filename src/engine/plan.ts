/**
 * plan(): a pure function of (resolved spec, recorded state, live state) → the ordered steps
 * of a deploy. `slipway plan` prints it; --dry-run stops after it; run() executes it.
 */
import type { Instance } from "../drivers/driver.js";
import { proxied } from "../spec/defaults.js";
import type { ResolvedSpec, Strategy } from "../spec/resolved.js";
import type { Revision } from "../store/store.js";
import { bakeStep } from "./analysis-gate.js";
import { deployLayers, type GroupLayers } from "./layers.js";
import { describeSummary, type TerraformSummary } from "./infra/terraform.js";

/** Every kind of step; each has its runner in steps/ (registered in steps/registry.ts). */
export const StepKinds = [
  "checks",
  "backup",
  "prepare",
  "migrate",
  "rollout",
  "bake",
  "remove",
  "finalize",
  "carry",
  // The data half of a rollback --with-db (engine/data/data-rollback.ts), before the code moves.
  "migrate-down",
  "restore",
  // An `infrastructure:` step (engine/infra/), before the services.
  "terraform",
] as const;
export type StepKind = (typeof StepKinds)[number];

export interface PlanStep {
  seq: number;
  kind: StepKind;
  service?: string;
  /** Steps sharing a group run in parallel. */
  group: number;
  description: string;
  strategy?: Strategy;
  /** What changes for this service: create (not running), update, restore (rollback), unchanged (kept). */
  change?: "create" | "update" | "restore" | "remove" | "unchanged";
  fromRevision?: number;
  /** A data step of a rollback --with-db: which revision's change it undoes, and how. */
  data?: DataStep;
  /** A terraform step: the plan it applies (its file, and what it adds, changes and destroys). */
  infra?: TerraformSummary;
}

/** What a data step undoes: a revision's migrations (`down`) or data (`restore` a backup). */
export interface DataStep {
  /** The revision whose data change is undone. */
  revision: number;
  version: string;
  service: string;
  action: "down" | "restore";
  /** restore: the backup taken before `revision` deployed, of `backupService`. */
  backupId?: string;
  backupService?: string;
  /** Set when the step cannot be done (no down command and no backup recorded). */
  problem?: string;
}

export interface Plan {
  project: string;
  env: string;
  version: string;
  target: string;
  /** The revision this plan would create. */
  revision: number;
  /** The revision now deployed, if any. */
  current?: { number: number; version: string };
  rollbackOf?: number;
  services: string[];
  layers: string[][];
  /** With groups (spec/groups.ts): each group's layers, in deploy order. */
  groups?: GroupLayers[];
  steps: PlanStep[];
}

export interface PlanInput {
  spec: ResolvedSpec;
  current?: Revision;
  nextRevision: number;
  live: Instance[];
  only?: string[];
  skipChecks?: boolean;
  /** Planning a rollback: the revision being re-applied. */
  rollbackOf?: number;
  /** Services unchanged since the deployed revision: kept running as they are (engine/carry.ts). */
  unchanged?: readonly string[];
  /** A rollback --with-db: the data steps, in order (they run one at a time, before the code). */
  data?: readonly DataStep[];
  /** The Terraform plans of `infrastructure:`, applied in order before the services. */
  infrastructure?: readonly TerraformSummary[];
}

/** A data step of a rollback --with-db, alone in its group (they run one at a time). */
function dataPlanStep(d: DataStep, group: number): Omit<PlanStep, "seq"> {
  return {
    kind: d.action === "down" ? "migrate-down" : "restore",
    service: d.backupService ?? d.service,
    group,
    description: dataStepDescription(d),
    data: d,
  };
}

function dataStepDescription(d: DataStep): string {
  if (d.problem) return `cannot return the data of ${d.service}: ${d.problem}`;
  if (d.action === "down") return `migrate ${d.service} down (undo revision ${d.revision}, ${d.version})`;
  return `restore ${d.backupService ?? d.service} from ${d.backupId} (taken before revision ${d.revision} deployed)`;
}

export function plan(input: PlanInput): Plan {
  const { spec, current, live } = input;
  const only = input.only?.length ? new Set(input.only) : undefined;
  const { layers, groups } = deployLayers(spec, only);
  const steps: PlanStep[] = [];
  let group = 0;
  const add = (s: Omit<PlanStep, "seq">) => steps.push({ ...s, seq: steps.length + 1 });
  const liveServices = new Set(live.map((i) => i.service));
  if (!input.skipChecks && spec.checks.length && input.rollbackOf === undefined) {
    add({ kind: "checks", group: group++, description: `run ${spec.checks.length} pre-flight check(s)` });
  }
  for (const t of input.infrastructure ?? [])
    add({ kind: "terraform", group: group++, description: describeSummary(t), infra: t });
  const services = layers.flat();
  const backups = services.filter((n) => {
    const b = spec.services[n].backup as { before?: string } | undefined;
    return b?.before === "deploy" && liveServices.has(n);
  });
  if (backups.length) {
    for (const n of backups) add({ kind: "backup", service: n, group, description: `back up ${n}` });
    // The release being replaced goes on record beside its data (a step without a service).
    if (current)
      add({ kind: "backup", group, description: `record release r${current.number} (spec and images)` });
    group++;
  }
  // A rollback --with-db changes the data after that backup: what it replaces (written since
  // the deploy) is on record first, and a later rollback to this revision restores it.
  for (const d of input.data ?? []) add(dataPlanStep(d, group++));
  const kept = new Set(input.rollbackOf === undefined ? (input.unchanged ?? []) : []);
  for (const n of services.filter((x) => !kept.has(x)))
    add({ kind: "prepare", service: n, group, description: `prepare release of ${n}` });
  group++;
  for (const layer of layers) {
    const migrating = layer.filter(
      (n) => spec.services[n].migrate?.up && input.rollbackOf === undefined && !kept.has(n),
    );
    for (const n of migrating) add({ kind: "migrate", service: n, group, description: `migrate ${n} up` });
    if (migrating.length) group++;
    for (const n of layer) {
      if (kept.has(n)) add(carryStep(n, group, live));
      else {
        const change = input.rollbackOf !== undefined ? "restore" : liveServices.has(n) ? "update" : "create";
        add(rolloutStep(spec, n, group, change, current?.number));
      }
    }
    group++;
  }
  const bake = input.rollbackOf === undefined ? bakeStep(spec) : undefined;
  if (bake) add({ kind: "bake", group: group++, description: bake });
  if (!only) {
    const gone = [...liveServices].filter((n) => !spec.services[n]).sort();
    for (const n of gone) add(removeStep(n, group));
    if (gone.length) group++;
  }
  add({ kind: "finalize", group, description: "promote, retire previous instances, record the revision" });
  return {
    project: spec.project,
    env: spec.env,
    version: spec.version,
    target: spec.target.kind,
    revision: input.nextRevision,
    current: current ? { number: current.number, version: current.version } : undefined,
    rollbackOf: input.rollbackOf,
    services,
    layers,
    ...(groups ? { groups } : {}),
    steps,
  };
}

function removeStep(service: string, group: number): Omit<PlanStep, "seq"> {
  return {
    kind: "remove",
    service,
    group,
    change: "remove",
    description: `remove ${service} (no longer in the spec)`,
  };
}

/** An unchanged service keeps its instances (and their revision and SLIPWAY_VERSION). */
function carryStep(service: string, group: number, live: Instance[]): Omit<PlanStep, "seq"> {
  const running = live.filter((i) => i.service === service && i.warmUntil === undefined);
  const from = Math.max(...running.map((i) => i.revision));
  return {
    kind: "carry",
    service,
    group,
    change: "unchanged",
    fromRevision: from,
    description: `${service} unchanged: keep its ${running.length} instance${running.length === 1 ? "" : "s"} of revision ${from} running`,
  };
}

function rolloutStep(
  spec: ResolvedSpec,
  n: string,
  group: number,
  change: "create" | "update" | "restore",
  fromRevision: number | undefined,
): Omit<PlanStep, "seq"> {
  const svc = spec.services[n];
  const verb = change === "create" ? "start" : change === "restore" ? "restore" : "roll out";
  if (svc.chart)
    return {
      kind: "rollout",
      service: n,
      group,
      strategy: svc.rollout.strategy,
      change,
      fromRevision,
      description: `${verb} ${n} (chart ${typeof svc.chart === "string" ? svc.chart : svc.chart.name}: apply its objects, wait for its workloads' own rolling update)`,
    };
  return {
    kind: "rollout",
    service: n,
    group,
    strategy: svc.rollout.strategy,
    change,
    fromRevision,
    description: `${change === "create" ? "start" : change === "restore" ? "restore" : "roll out"} ${n} (${svc.rollout.strategy}, ${svc.replicas} instance${svc.replicas === 1 ? "" : "s"}${svc.port ? `, :${svc.port}${proxied(svc) ? "" : " direct, not proxied"}` : ""})`,
  };
}
