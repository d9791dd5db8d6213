/**
 * Many `prometheus` rules on one server in one request: each rule's expression is tagged with a
 * label naming the rule (`label_replace(EXPR, "slipway_rule", "N", "", "")`, a scalar through
 * `vector()`) and the tagged vectors are joined with `or` — their label sets never collide, so
 * the union holds every rule's series. One POST to /api/v1/query instead of one per rule is what
 * keeps 200 rules on a 5 s interval cheap (bench/rules.ts).
 *
 * An expression not seen yet is tried as a vector (most are); when Prometheus refuses the batch
 * (a scalar, a parse error), the rules it does not know yet are queried one by one, which tells
 * their result type: scalars are batched through vector() from then on, and an expression that
 * fails or answers something else stays on its own, so one bad expression is an error of that
 * rule only. URLs with credentials are not batched (the rule's own provider handles them).
 */
import { parseResult } from "../../analysis/prometheus.js";
import type { Measurement } from "../../analysis/index.js";
import { errorMessage } from "../../errors.js";
import type { Rule } from "../../spec/schema-rules.js";

const LABEL = "slipway_rule";

interface Answer {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: unknown };
}

export class PrometheusBatch {
  /** base URL → expression → result type ("vector" | "scalar"). */
  private readonly types = new Map<string, Map<string, string>>();
  /** HTTP queries sent so far (tests and the benchmark read it). */
  queries = 0;

  static batchable(rule: Rule): boolean {
    if (rule.provider !== "prometheus" || !rule.url) return false;
    try {
      const u = new URL(rule.url);
      return !u.username && !u.password && (u.protocol === "http:" || u.protocol === "https:");
    } catch {
      return false;
    }
  }

  /** One measurement per rule (all `batchable`), by rule name. */
  async measure(rules: Rule[], signal: AbortSignal, now: () => number): Promise<Map<string, Measurement>> {
    const out = new Map<string, Measurement>();
    const byUrl = new Map<string, Rule[]>();
    for (const r of rules) {
      const base = (r.url as string).replace(/\/+$/, "");
      byUrl.set(base, [...(byUrl.get(base) ?? []), r]);
    }
    await Promise.all([...byUrl].map(([base, list]) => this.server(base, list, out, signal, now)));
    return out;
  }

  /** The rules of one server: in one query when it can, else one by one. */
  private async server(
    base: string,
    list: Rule[],
    out: Map<string, Measurement>,
    signal: AbortSignal,
    now: () => number,
  ): Promise<void> {
    const types = this.types.get(base) ?? new Map<string, string>();
    this.types.set(base, types);
    const single = list.filter((r) => !batchableType(types.get(r.query)));
    const candidates = list.filter((r) => batchableType(types.get(r.query)));
    // Unknown expressions are tried as vectors (most are): one query from the first round on.
    if (candidates.length > 1 && (await this.batch(base, candidates, types, out, signal, now))) {
      for (const r of candidates) if (!types.has(r.query)) types.set(r.query, "vector");
    } else if (candidates.length > 1) {
      const known = candidates.filter((r) => types.has(r.query));
      single.push(...candidates.filter((r) => !types.has(r.query)));
      if (!(known.length > 1 && (await this.batch(base, known, types, out, signal, now))))
        single.push(...known);
    } else single.push(...candidates);
    await Promise.all(single.map(async (r) => out.set(r.name, await this.one(base, r, types, signal, now))));
  }

  private async one(
    base: string,
    rule: Rule,
    types: Map<string, string>,
    signal: AbortSignal,
    now: () => number,
  ): Promise<Measurement> {
    let doc: Answer;
    try {
      this.queries++;
      doc = await query(base, rule.query, signal);
    } catch (e) {
      return { error: errorMessage(e), at: now() };
    }
    // An expression that fails or answers neither a vector nor a scalar is not batched again.
    if (doc.status !== "success") types.set(rule.query, "error");
    if (doc.status !== "success")
      return { error: `query failed (${doc.errorType ?? "error"}): ${doc.error ?? "no answer"}`, at: now() };
    const type = doc.data?.resultType;
    types.set(rule.query, type ?? "error");
    return parseResult(rule, type, doc.data?.result, now());
  }

  /** False when the batch could not be taken (the caller measures the rules one by one). */
  private async batch(
    base: string,
    rules: Rule[],
    types: Map<string, string>,
    out: Map<string, Measurement>,
    signal: AbortSignal,
    now: () => number,
  ): Promise<boolean> {
    const expr = union(
      rules.map((r, i) => {
        const v = types.get(r.query) === "scalar" ? `vector(${r.query})` : `(${r.query})`;
        return `label_replace(${v}, "${LABEL}", "${i}", "", "")`;
      }),
    );
    let doc: Answer;
    try {
      this.queries++;
      doc = await query(base, expr, signal);
    } catch (e) {
      const error = errorMessage(e);
      for (const r of rules) out.set(r.name, { error, at: now() }); // the server is down: every rule errs
      return true;
    }
    if (doc.status !== "success" || doc.data?.resultType !== "vector" || !Array.isArray(doc.data.result))
      return false;
    const byRule = new Map<string, unknown[]>();
    for (const s of doc.data.result as { metric?: Record<string, string> }[]) {
      const i = s.metric?.[LABEL];
      if (i !== undefined) byRule.set(i, [...(byRule.get(i) ?? []), s]);
    }
    const at = now();
    rules.forEach((r, i) => out.set(r.name, parseResult(r, "vector", byRule.get(String(i)) ?? [], at)));
    return true;
  }
}

/**
 * `a or b or …` as a balanced tree: Prometheus evaluates `or` left to right, hashing the left
 * side's label sets at each step, so a flat chain of n costs n² and a balanced one n·log n.
 */
function union(parts: string[]): string {
  if (parts.length === 1) return parts[0];
  const mid = parts.length >> 1;
  return `(${union(parts.slice(0, mid))}) or (${union(parts.slice(mid))})`;
}

/** An expression that may go into a batch: not tried yet, or known to answer a vector or a scalar. */
const batchableType = (t: string | undefined) => t === undefined || t === "vector" || t === "scalar";

async function query(base: string, expr: string, signal: AbortSignal): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(`${base}/api/v1/query`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ query: expr }).toString(),
      signal,
    });
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    throw new Error(
      `POST ${base}/api/v1/query: ${signal.aborted ? "timed out or aborted" : errorMessage(cause ?? e)}`,
    );
  }
  const body = await res.text();
  try {
    return JSON.parse(body) as Answer;
  } catch {
    throw new Error(`${base}: HTTP ${res.status}, not a Prometheus API answer: ${body.slice(0, 200)}`);
  }
}
