/**
 * The alerts configuration a hub persists per environment (column outboxes.alerts): the snapshot's
 * redacted copy, never a secret value, re-hydrated from the daemon's environment at start.
 */
import type { Logger } from "../logger.js";
import type { Resolution } from "../spec/resolve.js";
import { rehydrate } from "../spec/resolve.js";
import type { AlertsConfig, ChannelConfig } from "../spec/schema-alerts.js";
import type { HubRow } from "./outbox.js";

/** Secret values shorter than this are not scrubbed from free text (they would mangle it). */
export const MIN_SCRUB = 6;

const TEMPLATE = /(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The persisted configuration with the daemon's variables; channels that cannot be filled wait. */
export function rehydrated(row: HubRow, vars: Record<string, string | undefined>, log: Logger): AlertsConfig {
  const stored = JSON.parse(row.alerts as string) as AlertsConfig;
  const channels: Record<string, ChannelConfig> = {};
  for (const [name, ch] of Object.entries(stored.channels)) {
    const missing = [...JSON.stringify(ch).matchAll(TEMPLATE)]
      .map((m) => m[1])
      .filter((n) => vars[n] === undefined || vars[n] === "");
    if (missing.length) {
      log.warn(
        `alerts: channel "${name}" of ${row.project}/${row.env} waits for the next operation: ` +
          `${[...new Set(missing)].join(", ")} not set in the daemon's environment`,
      );
      continue;
    }
    channels[name] = rehydrate(ch, vars);
  }
  const held = row.held ? (JSON.parse(row.held) as string[]) : [];
  for (const name of held)
    log.warn(
      `alerts: channel "${name}" of ${row.project}/${row.env} has a secret written in slipway.yaml, ` +
        "which is never stored; it waits for the next operation",
    );
  return { ...stored, channels };
}

/** The credentials of a channel: what must never be written to disk. */
export function credentialsOf(ch: ChannelConfig): string[] {
  switch (ch.type) {
    case "slack":
      return [ch.url];
    case "webhook":
      return [ch.secret ?? "", ...Object.values(ch.headers ?? {})];
    case "email": {
      try {
        const u = new URL(ch.smtp);
        return u.password ? [u.password, decodeURIComponent(u.password)] : [];
      } catch {
        return [ch.smtp];
      }
    }
    case "sms":
    case "voice":
      return [ch.token];
    case "pagerduty":
      return [ch.routingKey];
  }
}

/**
 * The alerts block as it may be stored: the snapshot (secret values as ${VAR} templates),
 * minus any channel in which a credential or secret value is still visible (written
 * literally in the spec); those are listed in `held`.
 */
export function persistable(resolution: Resolution): { text: string | null; held: string[] } {
  const real = resolution.spec.alerts;
  const snap = resolution.snapshot.alerts;
  if (!real || !snap) return { text: null, held: [] };
  const secrets = [...resolution.secrets.values()].filter((v) => v.length >= MIN_SCRUB);
  const out = structuredClone(snap) as AlertsConfig;
  const held: string[] = [];
  const visible = (text: string, values: string[]) =>
    values.some((v) => v.length >= 4 && (text.includes(v) || text.includes(JSON.stringify(v).slice(1, -1))));
  for (const [name, ch] of Object.entries(real.channels)) {
    const stored = out.channels[name];
    if (!stored) continue;
    if (visible(JSON.stringify(stored), [...credentialsOf(ch), ...secrets])) {
      delete out.channels[name];
      held.push(name);
    }
  }
  let text = JSON.stringify(out);
  for (const s of secrets) if (text.includes(s)) text = text.split(s).join("***");
  return { text, held };
}
