/**
 * Routing: labels from an event, ordered route matching with `continue`, group keys and
 * fingerprints. Pure functions; the notifier persists what they decide.
 */
import { createHash } from "node:crypto";
import { defaultGroupBy } from "../spec/schema-alerts.js";
import type { AlertsConfig, RouteConfig } from "../spec/schema-alerts.js";
import type { AlertEvent, Labels } from "./types.js";

/** Matchers as written in routes and silences: label → accepted values ("!x" rejects x). */
export type Matchers = Record<string, string[]>;

/**
 * Events that end an earlier alert rather than start one: `health.recovered` resolves the
 * open `health.degraded` alert of the same project, environment and service. An event may
 * also name what it resolves in `data.resolves`.
 */
export const RESOLVES: Readonly<Record<string, string>> = {
  "health.recovered": "health.degraded",
  "backup.succeeded": "backup.failed",
  "certificate.renewed": "certificate.expiring",
  "secret.rotated": "secret.expiring",
};

/** Alert kinds that stay open until a resolving event arrives (all others are one-shot). */
export const STATEFUL_KINDS: ReadonlySet<string> = new Set(Object.values(RESOLVES));

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/;
const CORE = ["project", "environment", "service", "event", "severity"];

export function labelsOf(e: AlertEvent): Labels {
  const labels: Labels = {};
  const extra = e.data?.labels;
  if (extra && typeof extra === "object" && !Array.isArray(extra)) {
    for (const [k, v] of Object.entries(extra as Record<string, unknown>)) {
      if (!LABEL_NAME.test(k) || CORE.includes(k)) continue;
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") labels[k] = String(v);
    }
  }
  labels.project = e.project;
  labels.environment = e.env;
  if (e.service) labels.service = e.service;
  labels.event = e.kind;
  labels.severity = e.severity;
  return labels;
}

/** The kind an event resolves, if it is a resolving event. */
export function resolvesKind(e: AlertEvent): string | undefined {
  const explicit = e.data?.resolves;
  if (typeof explicit === "string" && explicit) return explicit;
  return RESOLVES[e.kind];
}

export function isStateful(e: AlertEvent): boolean {
  return STATEFUL_KINDS.has(e.kind) || e.data?.stateful === true;
}

/** Missing labels match as "" (Alertmanager's rule), so `service: ""` matches project-wide events. */
export function matches(m: Matchers, labels: Labels): boolean {
  for (const [name, values] of Object.entries(m)) {
    const actual = labels[name] ?? "";
    const pos = values.filter((v) => !v.startsWith("!"));
    const neg = values.filter((v) => v.startsWith("!")).map((v) => v.slice(1));
    if (neg.includes(actual)) return false;
    if (pos.length && !pos.includes(actual)) return false;
  }
  return true;
}

export interface ResolvedRoute {
  index: number;
  receivers: string[];
  mention?: "channel" | "here";
  sendResolved: boolean;
  groupBy: string[];
  groupWait: number;
  groupInterval: number;
  repeatInterval: number;
}

/** The routes an alert goes to, in order: the first match, and later ones while `continue` holds. */
export function selectRoutes(cfg: AlertsConfig, labels: Labels): ResolvedRoute[] {
  const routes: RouteConfig[] = cfg.routes ?? [
    { match: {}, receivers: Object.keys(cfg.channels), continue: false, sendResolved: true },
  ];
  const out: ResolvedRoute[] = [];
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i];
    if (!r.receivers.length || !matches(r.match, labels)) continue;
    out.push({
      index: i,
      receivers: [...new Set(r.receivers)],
      mention: r.mention,
      sendResolved: r.sendResolved,
      groupBy: r.groupBy ?? cfg.groupBy ?? defaultGroupBy,
      groupWait: r.groupWait ?? cfg.groupWait,
      groupInterval: r.groupInterval ?? cfg.groupInterval,
      repeatInterval: r.repeatInterval ?? cfg.repeatInterval,
    });
    if (!r.continue) break;
  }
  return out;
}

export function groupLabelsOf(groupBy: string[], labels: Labels): Labels {
  if (groupBy.includes("...")) return { ...labels };
  const out: Labels = {};
  for (const k of groupBy) if (labels[k] !== undefined) out[k] = labels[k];
  return out;
}

function hash(parts: string): string {
  return createHash("sha256").update(parts).digest("hex").slice(0, 32);
}

function canonical(labels: Labels): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );
}

/** The group an alert joins: one per route and group-label values. */
export function groupKeyOf(routeIndex: number, groupLabels: Labels): string {
  return hash(`route:${routeIndex}|${canonical(groupLabels)}`);
}

/** Alert identity: all its labels (Alertmanager's rule); equal alerts fold into one. */
export function fingerprintOf(labels: Labels): string {
  return hash(canonical(labels));
}

/** The labels every alert of a notification shares. */
export function commonLabelsOf(all: Labels[]): Labels {
  if (!all.length) return {};
  const out: Labels = { ...all[0] };
  for (const l of all.slice(1)) for (const k of Object.keys(out)) if (l[k] !== out[k]) delete out[k];
  return out;
}
