/**
 * json: GET a JSON document and read a number at a dotted path (`queue.lag`, `workers.0.busy`).
 * A missing path is "no data"; a value that is not a number is an error (the query is wrong).
 * With several instances, the worst instance decides.
 */
import type { AnalysisMetric, Measurement, MetricProvider, ProviderContext } from "./provider.js";
import { errorMessage } from "../errors.js";
import { worst } from "./driver-stats.js";
import { httpGet, redactUrl, snippet } from "./http.js";
import { urlsOf, type InstanceUrls } from "./targets.js";

export interface JsonProviderOptions {
  /** Base URLs of a service's new instances, for metrics whose url is a path. */
  instanceUrls?: InstanceUrls;
}

const MISSING = Symbol("missing");

export function readPath(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const key of path.split(".").filter((k) => k !== "")) {
    if (cur === null || typeof cur !== "object") return MISSING;
    if (!Object.prototype.hasOwnProperty.call(cur, key)) return MISSING;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export class JsonProvider implements MetricProvider {
  readonly kind = "json" as const;

  constructor(private readonly opts: JsonProviderOptions = {}) {}

  async measure(metric: AnalysisMetric, ctx: ProviderContext): Promise<Measurement> {
    let urls: string[];
    let bodies: string[];
    try {
      urls = await urlsOf(metric, this.opts.instanceUrls);
      bodies = await Promise.all(
        urls.map(async (u) => (await httpGet(u, ctx.signal, "application/json")).body),
      );
    } catch (e) {
      return { error: errorMessage(e), at: ctx.now() };
    }
    const at = ctx.now();
    if (!urls.length) return { noData: true, at };
    const values: number[] = [];
    for (let i = 0; i < urls.length; i++) {
      let doc: unknown;
      try {
        doc = JSON.parse(bodies[i]);
      } catch {
        return { error: `${redactUrl(urls[i])}: not JSON: ${snippet(bodies[i], 80)}`, at };
      }
      const v = readPath(doc, metric.query);
      if (v === MISSING || v === null) continue;
      const n = typeof v === "boolean" ? Number(v) : typeof v === "string" && v.trim() !== "" ? Number(v) : v;
      if (typeof n !== "number" || Number.isNaN(n))
        return {
          error: `${redactUrl(urls[i])}: "${metric.query}" is ${snippet(JSON.stringify(v), 60)}, not a number`,
          at,
        };
      values.push(n);
    }
    return values.length ? { value: worst(metric, values), at } : { noData: true, at };
  }
}
