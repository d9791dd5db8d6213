/**
 * `slipway init --from-compose`: a slipway.yaml from a Compose file. Everything Slipway has a
 * field for is mapped; everything else is listed in `unmapped` (and in the file's header
 * comment), never dropped silently. The output validates against the spec schema.
 * One service is mapped by service.ts; values, ports, health, resources and secrets beside it.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Document, parse as parseYaml } from "yaml";
import { specSchema } from "../spec/schema.js";
import { SpecError } from "../errors.js";
import { composeSecrets, unusedSecrets } from "./secrets.js";
import { mapService, type Ctx } from "./service.js";
import { isObj, slipwayName, type Obj } from "./values.js";

export { composeDuration, composeSize, convertInterpolation } from "./values.js";

export interface ComposeImport {
  /** The slipway.yaml text. */
  yaml: string;
  /** What could not be mapped, each as "path: reason". */
  unmapped: string[];
}

export function importCompose(text: string, file: string): ComposeImport {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new SpecError([{ file, path: "", message: `not valid YAML: ${(e as Error).message}` }]);
  }
  if (!isObj(doc) || !isObj(doc.services))
    throw new SpecError([{ file, path: "services", message: "a Compose file needs a services: map" }]);
  const ctx: Ctx = { unmapped: [], rename: new Map(), secrets: new Map(), usedSecrets: new Set() };
  topLevelKeys(doc, ctx);
  const services: Obj = {};
  for (const n of Object.keys(doc.services)) {
    const m = slipwayName(n) || "service";
    ctx.rename.set(n, m);
    if (m !== n)
      ctx.unmapped.push(
        `services.${n}: renamed to ${m} (Slipway names are lower-case letters, digits, - or _)`,
      );
  }
  for (const [n, s] of Object.entries(doc.services)) {
    const svc = mapService(n, isObj(s) ? s : {}, ctx);
    if (Array.isArray(svc.dependsOn))
      svc.dependsOn = svc.dependsOn.map((d) => ctx.rename.get(String(d)) ?? d);
    if (!svc.image && !svc.build) {
      ctx.unmapped.push(`services.${n}: no image or build; give it one`);
      svc.image = `${ctx.rename.get(n)}:latest`;
    }
    services[ctx.rename.get(n) as string] = svc;
  }
  unusedSecrets(ctx.secrets, ctx.usedSecrets, ctx.unmapped);
  const development: Obj = { target: "docker" };
  if (existsSync(join(dirname(file), ".env"))) development.envFile = ".env";
  const spec: Obj = { project: projectName(doc.name, file), environments: { development }, services };
  dropRefused(spec, file, ctx);
  return { yaml: render(spec, file, ctx.unmapped), unmapped: ctx.unmapped };
}

/**
 * Compose's project name: `name:` in the file, else the name of the directory the file is in
 * (of its absolute path: "compose.yml" given relatively is in the current directory).
 */
export function projectName(name: unknown, file: string): string {
  const raw = typeof name === "string" && name ? name : basename(dirname(resolve(file)));
  return (
    slipwayName(raw)
      .slice(0, 63)
      .replace(/[^a-z0-9]+$/, "") || "app"
  );
}

function topLevelKeys(doc: Obj, ctx: Ctx): void {
  for (const k of Object.keys(doc)) {
    if (k === "services" || k === "name") continue;
    if (k === "version") ctx.unmapped.push(`version: obsolete in Compose, not needed`);
    else if (k === "secrets") ctx.secrets = composeSecrets(doc.secrets, ctx.unmapped);
    else if (k === "volumes" && isObj(doc.volumes)) {
      for (const [vn, vv] of Object.entries(doc.volumes))
        if (isObj(vv) && Object.keys(vv).length)
          ctx.unmapped.push(
            `volumes.${vn}: options (${Object.keys(vv).join(", ")}) not mapped; Slipway creates <project>-<env>-${vn}`,
          );
    } else if (k === "networks")
      ctx.unmapped.push("networks: Slipway uses one network per project and environment");
    else ctx.unmapped.push(`${k}: no equivalent`);
  }
}

/** Whatever the schema still refuses is moved to the unmapped list rather than written. */
function dropRefused(spec: Obj, file: string, ctx: Ctx): void {
  for (let round = 0; round < 50; round++) {
    const r = specSchema.safeParse(asResolved(spec));
    if (r.success) return;
    const issue = r.error.issues[0];
    if (!issue || !issue.path.length || !unset(spec, issue.path))
      throw new SpecError([
        { file, path: issue?.path.join(".") ?? "", message: issue?.message ?? "invalid" },
      ]);
    ctx.unmapped.push(`${issue.path.join(".")}: dropped, ${issue.message}`);
  }
}

/**
 * The spec as the loader would see it after interpolation, as far as the import can tell: a value
 * that is one `${VAR:-3000}` takes its default, a number when it is one (`port: ${API_PORT:-5000}`).
 */
function asResolved(v: unknown): unknown {
  if (typeof v === "string") {
    const m = /^\$\{\w+:?-([^}]*)\}$/.exec(v);
    return m ? (/^\d+$/.test(m[1] as string) ? Number(m[1]) : m[1]) : v;
  }
  if (Array.isArray(v)) return v.map(asResolved);
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asResolved(x)]));
  return v;
}

/** Remove a value at a path in a plain object. */
function unset(obj: Obj, path: PropertyKey[]): boolean {
  let cur: unknown = obj;
  for (let i = 0; i < path.length - 1; i++) {
    if (!isObj(cur) && !Array.isArray(cur)) return false;
    cur = (cur as Obj)[path[i] as string];
  }
  const last = path[path.length - 1] as string;
  if (isObj(cur) && last in cur) {
    delete cur[last];
    return true;
  }
  if (Array.isArray(cur)) {
    cur.splice(Number(last), 1);
    return true;
  }
  return false;
}

function render(spec: Obj, file: string, unmapped: string[]): string {
  const out = new Document(spec);
  const header = [
    ` slipway.yaml generated from ${basename(file)} by slipway init --from-compose.`,
    " Review it: health probes, rollout strategies and checks are Slipway's and Compose has none.",
  ];
  if (unmapped.length) header.push(" Not mapped from the Compose file:", ...unmapped.map((u) => `   - ${u}`));
  out.commentBefore = header.join("\n");
  return out.toString({ lineWidth: 110 });
}
