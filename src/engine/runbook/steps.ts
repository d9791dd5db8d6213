/**
 * The steps of a runbook, each one of the things Slipway already does: checks of the checklist
 * by name, a health probe of the serving instances, backups, backup verifies, a restore drill,
 * retention, a shell command, smoke requests. A step returns passed/failed with its evidence;
 * it never throws for a failure of what it checks (a thrown error is a failed step too).
 */
import { createCheckRunner, type CheckResult, type CheckSpec } from "../../checks/index.js";
import { errorMessage } from "../../errors.js";
import type { Resolution } from "../../spec/resolve.js";
import type { ResolvedSpec } from "../../spec/resolved.js";
import { stepKindOf, type RunbookStep } from "../../spec/schema-rules.js";
import type { EngineDeps } from "../context.js";
import { backedUpServices, pruneBackups, takeBackups, verifyBackup, withBackups } from "../data/index.js";
import { noopSink, type EventSink } from "../events.js";
import { smokeTest } from "../instance-commands.js";
import { envStatus } from "../status.js";
import { terraformRunbookStep } from "./terraform-step.js";

export interface StepOutcome {
  ok: boolean;
  evidence: string;
  details?: Record<string, unknown>;
}

export interface StepContext {
  deps: EngineDeps;
  resolution: Resolution;
  emit: EventSink;
  signal: AbortSignal;
}

const all = (list: string[] | undefined) => !list || list.includes("all");

/** The services a step names (`all`: every one of `candidates`). */
function pick(list: string[] | undefined, candidates: string[]): string[] {
  return all(list) ? candidates : candidates.filter((c) => list?.includes(c));
}

/** What the step does, in words (the report's default step name). */
export function describeStep(s: RunbookStep): string {
  const kind = stepKindOf(s);
  if (kind === "terraform") return `terraform ${s.terraform?.name ?? s.terraform?.dir}`;
  const v = s[kind];
  return `${kind} ${Array.isArray(v) ? v.join(", ") : String(v)}`;
}

export async function runStep(s: RunbookStep, c: StepContext): Promise<StepOutcome> {
  const spec = c.resolution.spec;
  switch (stepKindOf(s)) {
    case "check":
      return checks(
        c,
        spec.checks.filter((k) => s.check?.some((n) => k.name === n || k.kind === n)) as CheckSpec[],
      );
    case "command":
      // The command's output (its last lines) is the point of a review step: keep it in the report.
      return checks(
        c,
        [{ kind: "command", run: s.command as string, timeoutMs: s.timeout, severity: "error" }],
        true,
      );
    case "health":
      return health(c, s.health);
    case "smoke":
      return smoke(spec, s.smoke);
    case "backup":
      return backup(c, s.backup);
    case "backupVerify":
      return backupVerify(c, s.backupVerify as string);
    case "restoreTest":
      return restoreTest(c, s.restoreTest);
    case "retention":
      return retention(c, s.retention);
    case "terraform":
      return terraformRunbookStep(c.deps, spec, s, c.signal);
  }
}

async function checks(c: StepContext, list: CheckSpec[], output = false): Promise<StepOutcome> {
  const { resolution, deps } = c;
  const run = createCheckRunner({
    vars: resolution.vars,
    secrets: resolution.secrets.values(),
    ...(deps.preflight ? { target: deps.preflight } : {}),
  });
  const r = await run({ dir: resolution.spec.dir, checks: list }, c.emit, c.signal);
  const line = (x: CheckResult) => {
    const [first, ...rest] = x.evidence.split("\n");
    return `${x.status} ${x.name}: ${first}${output && rest.length ? `\n${rest.map((l) => `  ${l}`).join("\n")}` : ""}`;
  };
  return { ok: r.ok, evidence: r.results.map(line).join("\n"), details: { results: r.results } };
}

async function health(c: StepContext, names: string[] | undefined): Promise<StepOutcome> {
  const spec = c.resolution.spec;
  const status = await envStatus(c.deps, spec, { probe: true });
  if (!status.revision) return { ok: false, evidence: `nothing is deployed to ${spec.env}` };
  const wanted = pick(names, Object.keys(spec.services));
  const lines: string[] = [];
  let ok = true;
  for (const svc of status.services.filter((x) => wanted.includes(x.name))) {
    const serving = svc.instances.filter((i) => !i.warmUntil);
    const bad = serving.filter((i) => i.state !== "running" || i.health?.ok === false);
    if (svc.replicas > 0 && (!serving.length || bad.length)) ok = false;
    lines.push(
      `${svc.name}: ${serving.length - bad.length}/${serving.length} healthy` +
        (bad.length
          ? ` (${bad.map((i) => `${i.id} ${i.state}${i.health ? `: ${i.health.message}` : ""}`).join("; ")})`
          : ""),
    );
  }
  return { ok, evidence: lines.join("\n") || "no services", details: { services: status.services } };
}

async function smoke(spec: ResolvedSpec, names: string[] | undefined): Promise<StepOutcome> {
  const results = [];
  for (const svc of all(names) ? [undefined] : (names ?? []))
    results.push(...(await smokeTest(spec, svc)).results);
  const failed = results.filter((r) => !r.ok);
  return {
    ok: failed.length === 0,
    evidence: results.map((r) => `${r.ok ? "ok" : "failed"} ${r.message}`).join("\n"),
    details: { results },
  };
}

async function backup(c: StepContext, names: string[] | undefined): Promise<StepOutcome> {
  const spec = c.resolution.spec;
  const out: string[] = [];
  let ok = true;
  for (const svc of pick(
    names,
    backedUpServices(spec).map((s) => s.name),
  )) {
    try {
      const r = await takeBackups(c.deps, spec, { service: svc, emit: c.emit });
      out.push(...r.backups.map((b) => `${svc}: ${b.id} ${b.status}`));
    } catch (e) {
      ok = false;
      out.push(`${svc}: ${errorMessage(e)}`);
    }
  }
  return { ok, evidence: out.join("\n") || "no service to back up" };
}

async function verifyOne(c: StepContext, id: string): Promise<string> {
  const r = await verifyBackup(c.deps, c.resolution.spec, id);
  return `${id} verified: ${r.backup.verifyDetail ?? ""}`;
}

async function backupVerify(c: StepContext, which: string): Promise<StepOutcome> {
  const spec = c.resolution.spec;
  if (which !== "latest") {
    try {
      return { ok: true, evidence: await verifyOne(c, which) };
    } catch (e) {
      return { ok: false, evidence: errorMessage(e) };
    }
  }
  const out: string[] = [];
  let ok = true;
  for (const svc of backedUpServices(spec)) {
    const newest = await withBackups(c.deps, (b) => b.latest(spec.project, spec.env, svc.name));
    if (!newest) {
      ok = false;
      out.push(`${svc.name}: no backup to verify`);
      continue;
    }
    try {
      out.push(`${svc.name}: ${await verifyOne(c, newest.id)}`);
    } catch (e) {
      ok = false;
      out.push(`${svc.name}: ${errorMessage(e)}`);
    }
  }
  return { ok, evidence: out.join("\n") || "no service has a backup block" };
}

/** A fresh backup of each service, restored into a scratch database and compared, then dropped. */
async function restoreTest(c: StepContext, names: string[] | undefined): Promise<StepOutcome> {
  const spec = c.resolution.spec;
  const out: string[] = [];
  let ok = true;
  for (const svc of pick(
    names,
    backedUpServices(spec).map((s) => s.name),
  )) {
    try {
      const taken = await takeBackups(c.deps, spec, { service: svc, emit: noopSink });
      const rec = taken.backups[0];
      out.push(`${svc}: backup ${rec.id}; ${await verifyOne(c, rec.id)}`);
    } catch (e) {
      ok = false;
      out.push(`${svc}: ${errorMessage(e)}`);
    }
  }
  return { ok, evidence: out.join("\n") };
}

async function retention(c: StepContext, names: string[] | undefined): Promise<StepOutcome> {
  const spec = c.resolution.spec;
  const keep = pick(
    names,
    backedUpServices(spec).map((s) => s.name),
  );
  const only = { ...spec, services: Object.fromEntries(keep.map((n) => [n, spec.services[n]])) };
  const r = await pruneBackups(c.deps, only as ResolvedSpec, c.emit);
  const removed = r.removed.filter((x) => keep.includes(x.service));
  return {
    ok: true,
    evidence: removed
      .map((x) => `${x.service}: ${x.ids.length ? `removed ${x.ids.join(", ")}` : "nothing to prune"}`)
      .join("\n"),
    details: { removed },
  };
}
