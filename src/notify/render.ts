/** Human text for a notification, shared by Slack, e-mail, SMS and voice. */
import type { AlertView, Notification, Severity } from "./types.js";

const RANK: Record<Severity, number> = { critical: 3, warning: 2, info: 1 };

export function topSeverity(n: Notification): Severity {
  let s: Severity = "info";
  for (const a of n.alerts) if (a.status === "firing" && RANK[a.severity] > RANK[s]) s = a.severity;
  if (n.alerts.every((a) => a.status === "resolved"))
    for (const a of n.alerts) if (RANK[a.severity] > RANK[s]) s = a.severity;
  return s;
}

/** "[FIRING:2] critical | deploy.failed | shop/production api" (ASCII: an SMS with one non-GSM character holds 70 characters, not 160). */
export function title(n: Notification): string {
  const firing = n.alerts.filter((a) => a.status === "firing").length;
  const head = n.test
    ? "[TEST]"
    : n.status === "firing"
      ? `[FIRING${firing > 1 ? `:${firing}` : ""}]`
      : "[RESOLVED]";
  const l = n.commonLabels;
  const where = [l.project && l.environment ? `${l.project}/${l.environment}` : l.project, l.service]
    .filter(Boolean)
    .join(" ");
  return [head, topSeverity(n), l.event, where].filter(Boolean).join(" | ").replace("] | ", "] ");
}

export function alertLine(a: AlertView): string {
  const mark = a.status === "resolved" ? "resolved" : a.severity;
  const count = a.count > 1 ? ` (×${a.count})` : "";
  return `[${mark}] ${a.message}${count}`;
}

/** Title plus one line per alert, at most `max` lines. */
export function body(n: Notification, max = 20): string {
  const lines = n.alerts.slice(0, max).map(alertLine);
  if (n.alerts.length > max) lines.push(`... and ${n.alerts.length - max} more`);
  return lines.join("\n");
}

/** One short line for SMS and voice (160-ish characters). */
export function short(n: Notification, maxLen = 300): string {
  const first = n.alerts[0];
  const more = n.alerts.length > 1 ? ` (+${n.alerts.length - 1} more)` : "";
  const text = `${title(n)}: ${first ? first.message : ""}${more}`;
  return text.length > maxLen ? `${text.slice(0, maxLen - 1)}...` : text;
}
