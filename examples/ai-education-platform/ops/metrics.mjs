// 성능 메트릭 확인 (daily) and 리소스 사용량 분석 (weekly): each container's CPU (share of its CPU
// limit, as the alert rule measures it) and memory (share of its memory limit), against the
// runbook's alert thresholds (CPU 80 %, memory 85 %), and the gateway's request count and p95
// response time from its /metrics (the runbook's Grafana panel "API Response Times"). Exits 1 when
// a container is over a threshold.
import { containers, docker } from "./containers.mjs";

const CPU_MAX = 80;
const MEMORY_MAX = 85;
const list = containers();
if (!list.length) {
  console.log("no running containers");
  process.exit(1);
}
const stats = new Map(
  docker("stats", "--no-stream", "--format", "{{.ID}} {{.CPUPerc}} {{.MemPerc}}", ...list.map((c) => c.id))
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [id, cpu, mem] = l.split(" ");
      return [id.slice(0, 12), { cpu: parseFloat(cpu), mem: parseFloat(mem) }];
    }),
);
// docker stats gives CPU as a share of one core; the limit (--cpus) makes it a share of the limit.
const limits = new Map(
  docker("inspect", "-f", "{{.Id}} {{.HostConfig.NanoCpus}}", ...list.map((c) => c.id))
    .split("\n")
    .filter(Boolean)
    .map((l) => [l.slice(0, 12), Number(l.split(" ")[1]) || 1e9]),
);
let over = 0;
for (const c of list) {
  const s = stats.get(c.id.slice(0, 12));
  if (!s) continue;
  const cpu = s.cpu / ((limits.get(c.id.slice(0, 12)) ?? 1e9) / 1e9);
  const bad = cpu > CPU_MAX || s.mem > MEMORY_MAX;
  if (bad) over++;
  console.log(
    `${bad ? "OVER" : "ok  "} ${c.service}: cpu ${cpu.toFixed(1)} % (max ${CPU_MAX} %), memory ${s.mem.toFixed(1)} % (max ${MEMORY_MAX} %)`,
  );
}

// p95 from the gateway's http_request_duration_seconds histogram, as histogram_quantile does.
const port = process.env.GATEWAY_PORT || "8000";
try {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const buckets = [...text.matchAll(/http_request_duration_seconds_bucket\{[^}]*le="([^"]+)"\} (\d+)/g)].map(
    (m) => ({ le: m[1] === "+Inf" ? Infinity : Number(m[1]), n: Number(m[2]) }),
  );
  const total = buckets.at(-1)?.n ?? 0;
  const p95 = total ? buckets.find((b) => b.n >= 0.95 * total)?.le : undefined;
  const last = buckets.filter((b) => b.le !== Infinity).at(-1)?.le;
  const shown = p95 === undefined ? "n/a" : p95 === Infinity ? `> ${last} s` : `≤ ${p95} s`;
  console.log(`gateway: ${total} request(s), p95 ${shown}`);
} catch (e) {
  console.log(`gateway metrics on :${port}: ${e.message}`);
}
process.exit(over ? 1 : 0);
