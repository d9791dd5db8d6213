// 성능 벤치마크 테스트 (monthly): REQUESTS requests (default 200, 8 at a time) through the gateway
// to each of the five AI services; prints requests per second and the p95 response time, and
// fails when a request fails. Compare the figures month to month in `slipway runs ENV monthly`.
const port = process.env.GATEWAY_PORT || "8000";
const total = Number(process.argv[2] || 200);
const services = ["lesson-plan-ai", "content-gen-ai", "assessment-ai", "teaching-agent", "streaming-ai"];
const times = [];
let failed = 0;
let next = 0;
const t0 = performance.now();
async function worker() {
  while (next < total) {
    const i = next++;
    const s = performance.now();
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/${services[i % services.length]}/benchmark`);
      await r.text();
      if (!r.ok) failed++;
    } catch {
      failed++;
    }
    times.push(performance.now() - s);
  }
}
await Promise.all(Array.from({ length: 8 }, worker));
const secs = (performance.now() - t0) / 1000;
times.sort((a, b) => a - b);
const p95 = times[Math.min(times.length - 1, Math.floor(0.95 * times.length))];
console.log(
  `${total} requests in ${secs.toFixed(1)} s: ${(total / secs).toFixed(0)} req/s, p95 ${p95.toFixed(0)} ms, ${failed} failed`,
);
process.exit(failed ? 1 : 0);
