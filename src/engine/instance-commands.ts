/**
 * `slipway exec`, `slipway stats` and `slipway smoke`: one command inside a running instance,
 * per-instance CPU and memory, both through the driver (the engine API for containers, /proc for
 * processes), and the smoke requests against the public ports.
 */
import type { Instance, InstanceStats } from "../drivers/driver.js";
import { OperationFailed, UsageError } from "../errors.js";
import { redactorOf } from "../util/redact.js";
import type { Resolution } from "../spec/resolve.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import type { EngineDeps } from "./context.js";
import { smokeRequest, type SmokeResult } from "./strategies/common.js";

export interface ExecResult {
  instance: string;
  service: string;
  command: string[];
  exitCode: number;
  output: string;
}

export interface InstanceStatsRow {
  id: string;
  service: string;
  revision: number;
  slot: string;
  /** Host (remote engines), when the driver says where the instance runs. */
  host?: string;
  state: string;
  /** undefined: the instance is not running (no figures). */
  stats?: InstanceStats;
}

function checkService(spec: ResolvedSpec, service: string | undefined): void {
  if (service && !spec.services[service])
    throw new UsageError(`no service "${service}" (services: ${Object.keys(spec.services).join(", ")})`);
}

/** Quote words for `sh -c` (the process target runs one-off commands through a shell). */
const shellQuote = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

export async function execInInstance(
  deps: EngineDeps,
  resolution: Resolution,
  service: string,
  command: string[],
  opts: { instance?: string; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ExecResult> {
  const spec = resolution.spec;
  checkService(spec, service);
  if (!command.length) throw new UsageError("exec: no command given (slipway exec ENV SVC -- CMD …)");
  const records = (await deps.store.listInstances(spec.project, spec.env)).filter(
    (r) => r.service === service && !r.warmUntil,
  );
  const live = new Map((await deps.driver.inspect(spec.project, spec.env)).map((i) => [i.id, i]));
  const running = records.filter((r) => live.get(r.id)?.state === "running");
  let target: Instance | undefined;
  if (opts.instance) {
    target = records.find((r) => r.id === opts.instance);
    if (!target)
      throw new UsageError(
        `--instance ${opts.instance}: no instance of ${service} with that id (instances: ${records.map((r) => r.id).join(", ") || "none"})`,
      );
  } else target = running.find((r) => r.slot === "stable") ?? running[0];
  if (!target || live.get(target.id)?.state !== "running")
    throw new OperationFailed(`no running instance of ${service} in ${spec.env}`);
  const inst = { ...target, ...live.get(target.id), artifact: target.artifact } as Instance;
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const redact = redactorOf(resolution);
  // Containers: inside the running container, without a shell (as `docker exec`). Processes have
  // no inside: a one-off of the instance's release with the service's environment (as migrations).
  const r = deps.driver.exec
    ? await deps.driver.exec(inst, command, { timeoutMs })
    : await deps.driver.runOnce(
        {
          project: spec.project,
          env: spec.env,
          service: spec.services[service] as NonNullable<ResolvedSpec["services"][string]>,
          revision: inst.revision,
          version: inst.version,
          slot: inst.slot,
          index: inst.index,
          env_vars: {
            ...spec.services[service]?.env,
            SLIPWAY_VERSION: inst.version,
            SLIPWAY_ENV: spec.env,
            SLIPWAY_SERVICE: service,
          },
          artifact: inst.artifact
            ? { service, revision: inst.revision, ref: inst.artifact }
            : await deps.driver.prepare(
                spec.project,
                spec.env,
                spec.services[service] as NonNullable<ResolvedSpec["services"][string]>,
                inst.revision,
                { existingOnly: true },
              ),
        },
        command.map(shellQuote).join(" "),
        { timeoutMs, signal: opts.signal },
      );
  return { instance: inst.id, service, command, exitCode: r.exitCode, output: redact(r.output) };
}

export async function instanceStats(
  deps: EngineDeps,
  spec: ResolvedSpec,
  service: string | undefined,
): Promise<{ instances: InstanceStatsRow[] }> {
  checkService(spec, service);
  const records = (await deps.store.listInstances(spec.project, spec.env)).filter(
    (r) => !service || r.service === service,
  );
  if (!records.length)
    throw new OperationFailed(`no instance${service ? ` of ${service}` : ""} in ${spec.env}`);
  const live = new Map((await deps.driver.inspect(spec.project, spec.env)).map((i) => [i.id, i]));
  const instances = await Promise.all(
    records.map(async (r): Promise<InstanceStatsRow> => {
      const l = live.get(r.id);
      const inst = { ...r, ...l } as Instance;
      const stats = l?.state === "running" ? await deps.driver.stats(inst) : undefined;
      const host = typeof inst.meta?.host === "string" ? inst.meta.host : undefined;
      return {
        id: r.id,
        service: r.service,
        revision: r.revision,
        slot: r.warmUntil ? "warm" : r.slot,
        ...(host ? { host } : {}),
        state: l?.state ?? "exited",
        ...(stats ? { stats } : {}),
      };
    }),
  );
  return { instances };
}

/**
 * `slipway smoke ENV [SVC]`: the deployed revision's smoke requests, run now against the public
 * ports — the runbooks' "smoke test after deploy", on demand (seed 002).
 */
export async function smokeTest(
  spec: ResolvedSpec,
  service: string | undefined,
): Promise<{ results: SmokeResult[]; skipped: string[] }> {
  checkService(spec, service);
  const results: SmokeResult[] = [];
  const skipped: string[] = [];
  for (const svc of Object.values(spec.services)) {
    if (service && svc.name !== service) continue;
    if (!svc.port || !svc.smoke.length) {
      skipped.push(svc.name);
      continue;
    }
    for (const s of svc.smoke) results.push(await smokeRequest(spec, svc, s));
  }
  if (!results.length)
    throw new UsageError(
      service
        ? `${service} has no smoke requests to run (it needs \`smoke:\` and a port)`
        : `no service of ${spec.env} has smoke requests to run (\`smoke:\` and a port)`,
    );
  return { results, skipped };
}
