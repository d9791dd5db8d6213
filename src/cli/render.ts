import type {
  evidenceOf,
  EngineEvent,
  Plan,
  DeployResult,
  EnvStatus,
  HistoryEntry,
  LogLine,
} from "../index.js";
import { formatDuration } from "../core.js";
import { colourWanted, palette, type Palette } from "./colours.js";
import { checkLines } from "./render-check.js";
import { brief, type describeEvidence } from "./render-analysis.js";

export interface Out {
  json: boolean;
  color: boolean;
  paint: Palette;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export function makeOut(json: boolean, noColor: boolean): Out {
  const color = colourWanted(noColor);
  return {
    json,
    color,
    paint: palette(color),
    stdout: (s) => process.stdout.write(s + "\n"),
    stderr: (s) => process.stderr.write(s + "\n"),
  };
}

export const green = (o: Out, s: string) => o.paint.green(s);
export const red = (o: Out, s: string) => o.paint.red(s);
export const yellow = (o: Out, s: string) => o.paint.yellow(s);
export const dim = (o: Out, s: string) => o.paint.dim(s);
export const bold = (o: Out, s: string) => o.paint.bold(s);

export function renderEvent(out: Out, e: EngineEvent): void {
  if (out.json) {
    out.stderr(JSON.stringify(e));
    return;
  }
  if (e.type === "step") {
    const d = e.durationMs !== undefined ? dim(out, ` ${formatDuration(e.durationMs)}`) : "";
    const msg = e.message ? dim(out, `  ${e.message.split("\n")[0]}`) : "";
    if (e.status === "running") out.stderr(`  ${dim(out, "…")} ${e.description}`);
    else if (e.status === "ok") out.stderr(`  ${green(out, "✔")} ${e.description}${d}${msg}`);
    else if (e.status === "failed") out.stderr(`  ${red(out, "✖")} ${e.description}${d}`);
    else if (e.status === "skipped")
      out.stderr(`  ${dim(out, "-")} ${dim(out, e.description + " (skipped)")}`);
  } else if (e.type === "check") {
    const [head, ...evidence] = checkLines(e);
    const colour =
      e.status === "failed" ? red : e.status === "warning" ? yellow : e.status === "skipped" ? dim : green;
    out.stderr(
      [`  ${colour(out, head.slice(0, 1))}${head.slice(1)}`, ...evidence.map((l) => `  ${dim(out, l)}`)].join(
        "\n",
      ),
    );
  } else if (e.type === "measurements") {
    const mark = e.level === "warn" ? yellow(out, "!") : "▸";
    out.stderr(`${mark} ${e.label}: ${e.measurements.map(brief).join(", ")}`);
  } else if (e.type === "log") {
    if (e.status) {
      const mark = e.status === "ok" ? green(out, "✔") : red(out, "✖");
      const [first, ...rest] = e.message.split("\n");
      out.stderr([`  ${mark} ${first}`, ...rest.map((l) => `  ${dim(out, l)}`)].join("\n"));
      return;
    }
    // Messages that still carry their own mark are printed as they are.
    if (/^[✔✖!⚠-] /.test(e.message)) {
      const [first, ...rest] = e.message.split("\n");
      const colour = e.level === "error" ? red : e.level === "warn" ? yellow : green;
      out.stderr(
        [`  ${colour(out, first.slice(0, 1))}${first.slice(1)}`, ...rest.map((l) => `  ${dim(out, l)}`)].join(
          "\n",
        ),
      );
      return;
    }
    const mark = e.level === "error" ? red(out, "✖") : e.level === "warn" ? yellow(out, "!") : "▸";
    out.stderr(`${mark} ${e.message}`);
  }
}

export function renderPlan(out: Out, p: Plan): void {
  out.stdout(
    `${bold(out, `Plan for ${p.project} ${p.env}`)} (target ${p.target}, version ${p.version}) → revision ${p.revision}` +
      (p.current ? `, replacing revision ${p.current.number} (${p.current.version})` : ", first deploy") +
      (p.rollbackOf ? `, re-applying revision ${p.rollbackOf}` : ""),
  );
  const groupOf = new Map((p.groups ?? []).flatMap((g) => g.layers.flat().map((n) => [n, g] as const)));
  let shown: string | undefined;
  for (const s of p.steps) {
    const par = p.steps.filter((x) => x.group === s.group).length > 1;
    // With groups, a header before the first rollout (or kept service) of each group.
    const g =
      ["rollout", "carry", "migrate"].includes(s.kind) && s.service ? groupOf.get(s.service) : undefined;
    if (g && g.name !== shown) {
      shown = g.name;
      const layers = g.layers.map((l) => l.join(", ")).join(" → ");
      out.stdout(bold(out, `  group ${g.name}${g.description ? ` (${g.description})` : ""}: ${layers}`));
    }
    out.stdout(`  ${String(s.seq).padStart(2)}. ${par ? "‖ " : ""}${s.description}`);
  }
}

export function renderDeploy(out: Out, r: DeployResult): void {
  out.stdout(green(out, `✔ revision ${r.revision} (${r.version}) deployed to ${r.env}`));
  for (const u of r.urls) out.stdout(`  ${u.service.padEnd(12)} ${u.url}`);
}

export function renderStatus(out: Out, s: EnvStatus): void {
  const rev = s.revision
    ? `revision ${s.revision.number} (${s.revision.version}, ${s.revision.status})`
    : "nothing deployed";
  out.stdout(`${bold(out, `${s.project} ${s.env}`)}  target ${s.target}  ${rev}`);
  const d = s.daemon;
  // Within a day of an unclean stop: while the daemon was down nothing watched or healed.
  const since = d ? Date.now() - Date.parse(d.startedAt) : Infinity;
  if (d?.afterUncleanStop && since < 86_400_000)
    out.stdout(
      yellow(out, `  daemon started ${formatDuration(Math.max(0, since))} ago after an unclean stop`),
    );
  if (s.unreachable) out.stdout(red(out, `  ${s.unreachable} (instance states unknown)`));
  if (s.lock)
    out.stdout(yellow(out, `  locked by ${s.lock.holder} (${s.lock.operation}) since ${s.lock.acquiredAt}`));
  for (const svc of s.services) {
    const paintStatus = svc.status === "running" ? green : svc.status === "stopped" ? dim : red;
    const st = paintStatus(out, svc.status.padEnd(9));
    out.stdout(
      `  ${svc.name.padEnd(12)} ${st} ${svc.instances.filter((i) => !i.warmUntil).length}/${svc.replicas} ${svc.strategy}${svc.url ? `  ${svc.url}` : ""}${(svc.ports ?? []).map((p) => `  ${p.name} ${p.address}`).join("")}` +
        (svc.scaled ? dim(out, `  scaled by ${svc.scaled.by} (spec: ${svc.scaled.from})`) : ""),
    );
    for (const i of svc.instances) {
      const h = i.health
        ? i.health.ok
          ? green(out, "healthy")
          : red(out, `unhealthy: ${i.health.message}`)
        : "";
      const dh = i.dockerHealth
        ? `  docker: ${i.dockerHealth === "unhealthy" ? red(out, i.dockerHealth) : i.dockerHealth}`
        : "";
      out.stdout(
        dim(
          out,
          `      ${i.id}  r${i.revision} ${i.version}  ${i.state}${i.pid ? ` pid ${i.pid}` : ""}${i.address ? ` ${i.address}` : ""}${i.restarts ? ` restarts ${i.restarts}` : ""}${i.warmUntil ? ` warm (unrouted) until ${i.warmUntil}` : ""}`,
        ) +
          (h ? `  ${h}` : "") +
          dh,
      );
    }
  }
}

/** `evidence`: the analysis formatters, loaded by the caller only when a revision has analysis facts. */
export function renderHistory(
  out: Out,
  h: HistoryEntry[],
  evidence?: { describeEvidence: typeof describeEvidence; evidenceOf: typeof evidenceOf },
): void {
  if (!h.length) {
    out.stdout("no revisions yet");
    return;
  }
  if (h.length === 1 && h[0].steps) {
    const r = h[0].revision;
    out.stdout(
      `${bold(out, `revision ${r.number}`)}  ${r.version}  ${r.status}  ${r.createdAt}  by ${r.actor}`,
    );
    out.stdout(
      `  ${r.description}${r.rollbackOf ? ` (re-applies revision ${r.rollbackOf})` : ""}${r.skipChecks ? "  [checks skipped]" : ""}`,
    );
    if (r.reason) out.stdout(red(out, `  reason: ${r.reason.split("\n").join("\n          ")}`));
    for (const s of h[0].steps) {
      const mark =
        s.status === "ok" ? green(out, "✔") : s.status === "failed" ? red(out, "✖") : dim(out, "-");
      out.stdout(
        `  ${mark} ${s.description}${s.durationMs !== undefined ? dim(out, ` ${formatDuration(s.durationMs)}`) : ""}${s.message ? dim(out, `  ${s.message.split("\n")[0]}`) : ""}`,
      );
    }
    // Human checklist items: who vouched for what, and how.
    type Confirm = { kind?: string; details?: { confirmedBy?: string; items?: ConfirmItem[] } };
    type ConfirmItem = { item: string; confirmed: boolean; via?: string };
    const checks = (r.facts.checks as Confirm[] | undefined) ?? [];
    for (const c of checks.filter((x) => x.kind === "confirm"))
      for (const i of c.details?.items ?? [])
        out.stdout(
          i.confirmed
            ? `  ${green(out, "✔")} confirmed "${i.item}" by ${c.details?.confirmedBy ?? "?"} (${i.via === "prompt" ? "at the prompt" : "--confirm"})`
            : `  ${red(out, "✖")} not confirmed "${i.item}"`,
        );
    // Metric analysis: values, thresholds and the metric that decided (--json has every measurement).
    for (const e of evidence?.evidenceOf(r.facts) ?? []) {
      const [head, ...rest] = evidence!.describeEvidence(e);
      const ok = e.result.outcome === "successful";
      out.stdout(
        `  ${ok ? green(out, head) : e.result.outcome === "inconclusive" ? yellow(out, head) : red(out, head)}`,
      );
      for (const l of rest) out.stdout(`  ${l}`);
    }
    return;
  }
  out.stdout(
    dim(
      out,
      "REV  VERSION          STATUS        WHEN                      BY                    DESCRIPTION",
    ),
  );
  for (const { revision: r, events } of h) {
    // Revision-less events (scales), newest first, above the revision they happened under.
    for (const e of events ?? []) {
      const what = e.message.replace(/^\S+ \S+: /, "");
      out.stdout(
        dim(
          out,
          `  ·  ${"".padEnd(16)} ${e.kind.padEnd(13)} ${e.time.padEnd(25)} ${(e.actor ?? "").slice(0, 21).padEnd(21)} ${what}`,
        ),
      );
    }
    out.stdout(
      `${String(r.number).padEnd(4)} ${r.version.padEnd(16)} ${r.status.padEnd(13)} ${r.createdAt.padEnd(25)} ${r.actor.slice(0, 21).padEnd(21)} ${r.description}${r.reason ? ` — ${r.reason.split("\n")[0].slice(0, 80)}` : ""}`,
    );
  }
}

export function renderLogLine(out: Out, l: LogLine): void {
  if (out.json) out.stdout(JSON.stringify(l));
  else out.stdout(`${dim(out, l.instance)} ${l.stream === "stderr" ? red(out, "│") : "│"} ${l.line}`);
}
