/**
 * GET /metrics on the daemon's API: the proxy's per-target series (request counters by status
 * class, in-flight, a real histogram) relayed over HTTP behind the API token, scraped by a real
 * Prometheus with that token as bearer token.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startPrometheus, type PrometheusServer } from "../support/prometheus.js";
import { daemonInfo, makeProject, type Project } from "./harness.js";

let project: Project | undefined;
let prom: PrometheusServer | undefined;
afterEach(async () => {
  await prom?.stop();
  prom = undefined;
  await project?.cleanup();
  project = undefined;
});

/** Sample values by series text (name{labels}) from Prometheus text exposition. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

const ROUTE = 'route="e2e/development/api"';
const series = (m: Map<string, number>, name: string, extra = "") =>
  [...m].filter(([k]) => k.startsWith(`${name}{${ROUTE}`) && k.includes(extra));
const total = (m: Map<string, number>, name: string, extra = "") =>
  series(m, name, extra).reduce((a, [, v]) => a + v, 0);

describe("daemon /metrics", () => {
  it("relays the proxy's counters and histogram over HTTP with the API token; Prometheus scrapes it", async () => {
    const p = (project = await makeProject());
    const d = p.cli(["deploy", "development", "--version", "v1"]);
    expect(d.code, d.stderr).toBe(0);
    const { url } = daemonInfo(p.home);
    // A metrics-role token: /metrics and nothing else (docs/users.md).
    const token = p.token("prometheus", "metrics");
    expect((await fetch(`${url}/v1/session`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(
      403,
    );
    const scrape = async () => {
      const r = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      return r.text();
    };

    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: "Bearer nope" } })).status).toBe(401);

    // Traffic flows while we scrape: a steady client loop on the api's public port.
    let stop = false;
    let sent = 0;
    const load = (async () => {
      while (!stop) {
        const r = await p.get("api");
        expect(r.status).toBe(200);
        sent++;
      }
    })();
    try {
      while (sent < 20) await new Promise((r) => setTimeout(r, 20));
      const first = samples(await scrape());
      // Counted from when the first scrape answered (the load goes on while it runs): at most the
      // one request in flight then was counted by the proxy but not yet here.
      const after = sent;
      while (sent < after + 100) await new Promise((r) => setTimeout(r, 20));
      const text = await scrape();
      const second = samples(text);

      expect(text).toContain("# TYPE slipway_proxy_request_duration_seconds histogram");
      expect(second.get("slipway_proxy_up")).toBe(1);
      expect(text).toMatch(/^slipway_daemon_info\{version="[^"]+"\} 1$/m);
      expect(
        [...second.keys()].some((k) => /^slipway_instances\{.*service="api",slot="stable"\}$/.test(k)),
      ).toBe(true);
      const ok1 = total(first, "slipway_proxy_requests_total", 'class="2xx"');
      const ok2 = total(second, "slipway_proxy_requests_total", 'class="2xx"');
      expect(ok1).toBeGreaterThan(0);
      expect(ok2 - ok1).toBeGreaterThanOrEqual(99);
      expect(series(second, "slipway_proxy_in_flight").length).toBe(1);

      // A real histogram: cumulative buckets, +Inf = _count, a _sum that grows with the count.
      const inf1 = total(first, "slipway_proxy_request_duration_seconds_bucket", 'le="+Inf"');
      const inf2 = total(second, "slipway_proxy_request_duration_seconds_bucket", 'le="+Inf"');
      expect(inf2 - inf1).toBeGreaterThanOrEqual(99);
      expect(inf2).toBe(total(second, "slipway_proxy_request_duration_seconds_count"));
      expect(total(second, "slipway_proxy_request_duration_seconds_sum")).toBeGreaterThan(
        total(first, "slipway_proxy_request_duration_seconds_sum"),
      );
      const buckets = series(second, "slipway_proxy_request_duration_seconds_bucket").map(([, v]) => v);
      expect(buckets.length).toBe(17);
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]).toBeGreaterThanOrEqual(buckets[i - 1]!);
      // Loopback requests take well under a second: the 1 s bucket moved with the traffic.
      const le1 = (m: Map<string, number>) =>
        total(m, "slipway_proxy_request_duration_seconds_bucket", 'le="1"');
      expect(le1(second) - le1(first)).toBeGreaterThanOrEqual(90);
      expect(le1(second)).toBe(inf2);

      // The same endpoint through a real Prometheus, with the token as bearer token.
      prom = await startPrometheus({ targets: [new URL(url).host], bearerToken: token });
      await prom.waitForTargetsUp();
      const q = await prom.query(
        `histogram_quantile(0.5, sum by (le) (slipway_proxy_request_duration_seconds_bucket{${ROUTE}}))`,
      );
      const [v] = q.result as { value: [number, string] }[];
      expect(Number(v?.value[1])).toBeGreaterThan(0);
      expect(Number(v?.value[1])).toBeLessThan(1);
      const c = await prom.query(`sum(slipway_proxy_requests_total{${ROUTE},class="2xx"})`);
      expect(Number((c.result as { value: [number, string] }[])[0]?.value[1])).toBeGreaterThanOrEqual(ok2);
    } finally {
      stop = true;
      await load;
    }
  });
});
