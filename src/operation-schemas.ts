/**
 * The shape and limits of every operation's payload (operations.ts), as zod schemas: the daemon
 * validates what it receives against them before anything runs, and the OpenAPI description
 * (server/openapi.ts) is generated from them. Unknown argument keys are dropped.
 */
import { z } from "zod";
import type { OpName } from "./operations.js";

const name = z.string().min(1).max(256);
const text = (max: number) => z.string().max(max);
const names = z.array(name).max(256);
const flag = z.boolean();
const count = (max: number) => z.number().int().min(0).max(max);
const revision = z.number().int().min(1).max(1_000_000_000).describe("a revision number");
/** A protected environment's typed confirmation (engine/protect.ts). */
const protection = {
  yes: flag.optional().describe("confirm a protected environment (--yes)"),
  confirmName: name.optional().describe("the environment's name, typed (--confirm-name)"),
  namePrompted: flag.optional(),
  overrideFreeze: text(1000).optional().describe("why a freeze window is overridden"),
};
const confirmation = {
  confirm: z.array(text(1000)).max(100).optional().describe("confirm checklist items"),
  prompted: z.array(text(1000)).max(100).optional(),
};
const forceRecreate = z.union([z.literal(true), names]).optional();
/** `--group G` / `--skip-group G` (spec/groups.ts). */
const groupSelection = {
  groups: names.optional().describe("only the services of these groups"),
  skipGroups: names.optional().describe("leave these groups' services as they run"),
};
const none = z.object({});

export const OP_ARGS: Record<OpName, z.ZodObject> = {
  check: z.object({ ...confirmation }),
  plan: z.object({ only: names.optional(), skipChecks: flag.optional(), forceRecreate, ...groupSelection }),
  deploy: z.object({
    only: names.optional().describe("deploy only these services"),
    forceRecreate,
    ...groupSelection,
    allowDestroy: flag.optional().describe("a protected environment's terraform plan may destroy resources"),
    ...protection,
    dryRun: flag.optional(),
    skipChecks: flag.optional(),
    ...confirmation,
    description: text(2000).optional(),
  }),
  rollback: z.object({
    revision: revision.optional(),
    ref: text(256).optional(),
    label: text(256).optional(),
    ...protection,
    withDb: flag.optional().describe("also roll the data back (restore, migrate down): admin"),
    dryRun: flag.optional(),
  }),
  restart: z.object({ service: name.optional(), dryRun: flag.optional() }),
  scale: z.object({ service: name, replicas: count(1000).describe("the instances to run") }),
  secrets: none,
  status: z.object({ probe: flag.optional() }),
  health: none,
  history: z.object({ revision: revision.optional(), limit: count(100_000).optional() }),
  logs: z.object({
    service: name.optional(),
    tail: count(1_000_000).optional(),
    sinceMs: count(10 * 365 * 86_400_000).optional(),
    follow: flag.optional(),
    revision: revision.optional(),
  }),
  exec: z.object({
    service: name,
    command: z.array(text(8192)).min(1).max(256),
    instance: name.optional(),
    timeoutMs: count(86_400_000).optional(),
  }),
  stats: z.object({ service: name.optional() }),
  smoke: z.object({ service: name.optional() }),
  stop: z.object({ service: name.optional() }),
  destroy: z.object({ ...protection }),
  prune: z.object({ keep: count(10_000).optional() }),
  lock: z.object({ release: flag.optional() }),
  rules: none,
  runbook: z.object({ name: name.describe("the runbook to run") }),
  "runbook-runs": z.object({ name: name.optional(), limit: count(100_000).optional() }),
  alerts: z.object({
    action: z.enum(["list", "test"]),
    limit: count(1000).optional(),
    severity: z.enum(["critical", "warning", "info"]).optional(),
  }),
  silence: z.object({
    action: z.enum(["add", "list", "expire"]),
    matchers: z.record(name, z.union([text(1000), z.array(text(1000)).max(100)])).optional(),
    duration: text(64).optional(),
    author: text(256).optional(),
    comment: text(2000).optional(),
    all: flag.optional(),
    id: name.optional(),
  }),
  backup: z.object({ service: name.optional() }),
  backups: z.object({ service: name.optional() }),
  "backup-verify": z.object({ id: name }),
  "backups-prune": none,
  restore: z.object({ id: name, yes: flag.optional(), force: flag.optional() }),
  migrate: z.object({
    action: z.enum(["up", "down", "status"]),
    service: name.optional(),
    to: text(256).optional(),
    revision: revision.optional(),
    yes: flag.optional(),
  }),
};

const specRef = z.looseObject({
  project: name,
  env: name,
  target: z.union([name, z.looseObject({ kind: name })]),
});

/** The wire form of a Resolution (operations.ts WireResolution). */
export const WIRE_RESOLUTION = z.object({
  spec: specRef.describe("the resolved spec (secrets as ${VAR} references), or a light reference"),
  snapshot: z.looseObject({}),
  secrets: z.record(text(256), text(65_536)).refine((r) => Object.keys(r).length <= 2000, "too many secrets"),
  vars: z.record(text(256), text(65_536)).refine((r) => Object.keys(r).length <= 4000, "too many vars"),
  light: flag.optional().describe("a read-only reference: the daemon answers from the deployed revision"),
});

const payloadSchemas = new Map<OpName, ReturnType<typeof makePayloadSchema>>();

function makePayloadSchema(op: OpName) {
  return z.object({
    resolution: WIRE_RESOLUTION,
    args: OP_ARGS[op].default({}),
    actor: text(200).optional().describe("ignored over TCP: the authenticated principal is the actor"),
  });
}

/** One schema per operation, built once: zod compiles an object schema's parser on first use. */
export function opPayloadSchema(op: OpName) {
  let s = payloadSchemas.get(op);
  if (!s) payloadSchemas.set(op, (s = makePayloadSchema(op)));
  return s;
}

/** Validation problems as one readable line per issue: `args.revision: expected number`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`)
    .join("; ");
}
