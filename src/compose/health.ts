/** Compose `healthcheck` to a Slipway health probe. */
import { composeDuration, convertInterpolation, isObj, shellJoin, type Obj } from "./values.js";

/** A healthcheck test to a Slipway probe: curl/wget of a localhost URL on the service's port → http. */
export function healthProbe(
  test: unknown,
  port: number | undefined,
): { http?: string; exec?: string } | undefined {
  let words: string[] | undefined;
  let shell: string | undefined;
  if (typeof test === "string") shell = test;
  else if (Array.isArray(test)) {
    const [kind, ...rest] = test.map(String);
    if (kind === "NONE") return undefined;
    if (kind === "CMD-SHELL") shell = rest.join(" ");
    else if (kind === "CMD") words = rest;
    else words = test.map(String);
  }
  const cmd = convertInterpolation(shell ?? shellJoin(words ?? []));
  if (!cmd) return undefined;
  const m =
    /^(?:curl|wget)\b[^|;&]*?\bhttps?:\/\/(?:localhost|127\.0\.0\.1|0\.0\.0\.0)(?::(\d+))?(\/[^\s'"|;&]*)?['"]?(?:\s*\|\|\s*exit 1)?\s*$/.exec(
      cmd.trim(),
    );
  if (m && (m[1] === undefined ? port === 80 : Number(m[1]) === port)) return { http: m[2] ?? "/" };
  return { exec: cmd };
}

/** The whole `healthcheck` block (undefined when disabled or without a test). */
export function mapHealthcheck(
  healthcheck: unknown,
  port: number | undefined,
  skip: (key: string, why: string) => void,
): Obj | undefined {
  if (!isObj(healthcheck) || healthcheck.disable === true) return undefined;
  const probe = healthProbe(healthcheck.test, port);
  if (!probe) return undefined;
  const h: Obj = { ...probe };
  const iv = composeDuration(healthcheck.interval);
  const to = composeDuration(healthcheck.timeout);
  const sp = composeDuration(healthcheck.start_period);
  if (iv) h.interval = iv;
  if (to) h.timeout = to;
  if (sp) h.startPeriod = sp;
  if (typeof healthcheck.retries === "number" && healthcheck.retries >= 1)
    h.unhealthyThreshold = healthcheck.retries;
  for (const k of Object.keys(healthcheck))
    if (!["test", "interval", "timeout", "start_period", "retries", "disable"].includes(k))
      skip(`healthcheck.${k}`, "no equivalent");
  return h;
}
