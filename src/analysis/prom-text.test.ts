import { describe, expect, it } from "vitest";
import { matches, parseExposition, parseSelector } from "./prom-text.js";

describe("Prometheus text format", () => {
  it("reads names, labels with escapes and commas, special values and timestamps; skips bad lines", () => {
    const text = [
      "# HELP x_total A counter.",
      "# TYPE x_total counter",
      'x_total{path="/a,b",msg="say \\"hi\\"\\n"} 3 1700000000000',
      "x_total 4",
      "up +Inf",
      "down NaN",
      "garbage line here",
      'broken{a="1" 5',
      "",
    ].join("\n");
    const s = parseExposition(text);
    expect(s.map((x) => [x.name, x.labels, x.value])).toEqual([
      ["x_total", { path: "/a,b", msg: 'say "hi"\n' }, 3],
      ["x_total", {}, 4],
      ["up", {}, Infinity],
      ["down", {}, Number.NaN],
    ]);
  });

  it("selectors: matchers, regex anchored like PromQL, errors name the problem", () => {
    const sel = parseSelector('http_total{code=~"5..", method!="GET"}');
    expect(sel.matchers.map((m) => `${m.label}${m.op}${m.value}`)).toEqual(["code=~5..", "method!=GET"]);
    const sample = (labels: Record<string, string>) => ({ name: "http_total", labels, value: 1 });
    expect(matches(sel, sample({ code: "503", method: "POST" }))).toBe(true);
    expect(matches(sel, sample({ code: "5030", method: "POST" }))).toBe(false);
    expect(matches(sel, sample({ code: "500", method: "GET" }))).toBe(false);
    expect(() => parseSelector("{a=1}")).toThrow(/not a metric selector/);
    expect(() => parseSelector('x{a="1"')).toThrow(/expected \{label="value",…\}/);
    expect(() => parseSelector("x{a=1}")).toThrow(/cannot read the label matcher at "a=1"/);
    expect(() => parseSelector('x{a=~"("}')).toThrow(/invalid regular expression/);
  });
});
