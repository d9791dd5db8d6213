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

/**
 * Compose interpolates `$VAR` in a healthcheck before the shell sees it; Slipway never pastes a
 * variable into shell text (validate refuses it): the variable goes to the service's env instead
 * and the command reads it as "$VAR".
 */
export function viaEnv(cmd: string, out: Obj, skip: (key: string, why: string) => void): string {
  return cmd.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?])[^}]*)?\}/g,
    (whole, name: string, mod?: string) => {
      if (name === "VERSION") return whole;
      const env = ((out.env as Obj | undefined) ?? {}) as Obj;
      const wanted = `\${${name}${mod ?? ""}}`;
      if (env[name] === undefined) env[name] = wanted;
      else if (env[name] !== wanted)
        skip(
          "healthcheck.test",
          `$${name}: Compose reads it from your shell, the container has its own ${name}`,
        );
      out.env = env;
      return `"$${name}"`;
    },
  );
}

/** The whole `healthcheck` block (undefined when disabled or without a test). */
export function mapHealthcheck(
  healthcheck: unknown,
  out: Obj,
  skip: (key: string, why: string) => void,
): Obj | undefined {
  if (!isObj(healthcheck) || healthcheck.disable === true) return undefined;
  const probe = healthProbe(healthcheck.test, out.containerPort as number | undefined);
  if (!probe) return undefined;
  if (probe.exec) probe.exec = viaEnv(probe.exec, out, skip);
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
