/**
 * Standing rules on one Prometheus in one query (prometheus-batch.ts), against a real Prometheus
 * scraping a small exporter: the batched values equal the rules' own instant queries, whatever
 * the result type, and a bad expression is an error of its rule only.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrometheusBatch } from "../../src/engine/rules/prometheus-batch.js";
import { ruleSchema, type Rule } from "../../src/spec/schema-rules.js";
import { freePort } from "../support/ports.js";
import { startPrometheus, type PrometheusServer } from "../support/prometheus.js";

let prom: PrometheusServer;
let exporter: Server;

beforeAll(async () => {
  const port = await freePort();
  exporter = createServer((_q, s) =>
    s.end('# TYPE lag gauge\nlag{q="a"} 5\nlag{q="b"} 40\nlag{q="c"} 12\n# TYPE up_jobs gauge\nup_jobs 3\n'),
  );
  await new Promise<void>((r) => exporter.listen(port, "127.0.0.1", r));
  prom = await startPrometheus({ targets: [`127.0.0.1:${port}`] });
  await prom.waitForTargetsUp();
}, 90_000);

afterAll(async () => {
  await prom?.stop();
  await new Promise<void>((r) => exporter?.close(() => r()));
});

const rule = (name: string, query: string, extra: Record<string, unknown> = {}): Rule =>
  ruleSchema.parse({ name, provider: "prometheus", url: prom.url, query, max: 30, ...extra });

describe("prometheus rules in one query", () => {
  it("gives each rule the value of its own query: vectors (worst series), scalars, empty vectors, errors", async () => {
    const rules = [
      rule("worst-lag", "lag"),
      rule("lowest-lag", "lag", { max: undefined, min: 1 }),
      rule("sum", "sum(lag)"),
      rule("scalar", "scalar(up_jobs) * 2"),
      rule("empty", 'lag{q="zzz"}'),
      rule("same-query", "sum(lag)"),
      rule("bad", "sum(lag"),
    ];
    const batch = new PrometheusBatch();
    const signal = new AbortController().signal;
    const first = await batch.measure(rules, signal, Date.now); // learns the result types
    expect(batch.queries).toBe(1 + 7); // the batch is refused (a scalar, a parse error): one by one
    const second = await batch.measure(rules, signal, Date.now); // batched
    expect(batch.queries).toBe(8 + 2); // the six known rules in one query, the bad one alone
    const vectors = new PrometheusBatch();
    const v = await vectors.measure([rules[0], rules[2], rules[4]], signal, Date.now);
    expect(vectors.queries).toBe(1); // vectors only: one query from the first round on
    expect([v.get("worst-lag")?.value, v.get("sum")?.value, v.get("empty")?.noData]).toEqual([40, 57, true]);
    for (const m of [first, second]) {
      expect(m.get("worst-lag")?.value).toBe(40);
      expect(m.get("lowest-lag")?.value).toBe(5);
      expect(m.get("sum")?.value).toBe(57);
      expect(m.get("same-query")?.value).toBe(57);
      expect(m.get("scalar")?.value).toBe(6);
      expect(m.get("empty")).toMatchObject({ noData: true });
      expect(m.get("bad")?.error).toMatch(/parse error/);
    }
  });

  it("a Prometheus that is down is an error for every rule, never a pass", async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const rules = [rule("a", "lag", { url: down }), rule("b", "sum(lag)", { url: down })];
    const m = await new PrometheusBatch().measure(rules, new AbortController().signal, Date.now);
    expect(m.get("a")?.error).toMatch(/ECONNREFUSED|fetch failed/);
    expect(m.get("b")?.error).toBeDefined();
  });
});
