/**
 * Alerts benchmark: 10,000 alerts through routing, grouping and the durable outbox (in the
 * SQLite store, WAL) to a local webhook, next to what a hand-written script does instead (POST each alert
 * directly, no outbox): the difference is the price of durability.
 *
 *   npx tsx bench/alerts-throughput.ts            (--count N to change the burst size)
 *
 * A) burst: N alerts at once. Throughput, event→delivery p50/p99, delivered == sent.
 * B) paced: 500 alerts/s for 4 s. Event→delivery p50/p99 when the system is not saturated.
 * The receiver runs in this process (both sides pay for it equally).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Notifier } from "../src/notify/index.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { alertsSchema } from "../src/spec/schema-alerts.js";

const argCount = process.argv.indexOf("--count");
const N = argCount > 0 ? Number(process.argv[argCount + 1]) : 10_000;

interface Receiver {
  url: string;
  arrivals: Map<number, number[]>;
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const arrivals = new Map<number, number[]>();
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = performance.now();
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        seq?: number;
        alerts?: { labels: { seq: string } }[];
      };
      const seqs = body.alerts ? body.alerts.map((a) => Number(a.labels.seq)) : [Number(body.seq)];
      for (const s of seqs) arrivals.set(s, [...(arrivals.get(s) ?? []), at]);
      res.writeHead(200).end("ok");
    });
  });
  srv.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    arrivals,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

interface Figures {
  name: string;
  sent: number;
  delivered: number;
  duplicates: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  acceptMs?: number;
}

function figures(name: string, r: Receiver, sentAt: Map<number, number>, t0: number, t1: number): Figures {
  const lat: number[] = [];
  let dup = 0;
  for (const [seq, at] of sentAt) {
    const got = r.arrivals.get(seq);
    if (!got) continue;
    dup += got.length - 1;
    lat.push(got[0] - at);
  }
  const seconds = (t1 - t0) / 1000;
  return {
    name,
    sent: sentAt.size,
    delivered: lat.length,
    duplicates: dup,
    seconds,
    perSecond: lat.length / seconds,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
  };
}

const event = (i: number) => ({
  project: "bench",
  env: "production",
  kind: "deploy.failed",
  severity: "critical" as const,
  message: `alert ${i}`,
  data: { labels: { seq: i } },
});

async function withNotifier<T>(url: string, fn: (n: Notifier) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-alerts-"));
  const store = SqliteStore.open({ home: dir });
  const n = new Notifier({
    store,
    project: "bench",
    env: "production",
    config: alertsSchema.parse({
      channels: { hook: { type: "webhook", url, secret: "bench-secret" } },
      // One notification per alert (no grouping), sent as soon as possible: the worst case.
      routes: [{ match: { severity: "critical" }, receivers: ["hook"] }],
      groupBy: ["..."],
      groupWait: 0,
    }),
    concurrency: 8,
  });
  n.start();
  try {
    return await fn(n);
  } finally {
    await n.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitDelivered(r: Receiver, count: number): Promise<number> {
  while (r.arrivals.size < count) await new Promise((res) => setTimeout(res, 5));
  return performance.now();
}

async function burstSlipway(): Promise<Figures> {
  const r = await receiver();
  try {
    return await withNotifier(r.url, async (n) => {
      const sentAt = new Map<number, number>();
      const t0 = performance.now();
      const committed: Promise<unknown>[] = [];
      for (let i = 0; i < N; i++) {
        sentAt.set(i, performance.now());
        committed.push(n.emit(event(i)));
      }
      await Promise.all(committed); // every alert committed in the store
      const accepted = performance.now();
      const t1 = await waitDelivered(r, N);
      await n.flush({ timeoutMs: 10_000 });
      return { ...figures("slipway outbox", r, sentAt, t0, t1), acceptMs: accepted - t0 };
    });
  } finally {
    await r.close();
  }
}

async function burstNaive(): Promise<Figures> {
  const r = await receiver();
  try {
    // What a runbook script does: for each alert, POST it; no record, no retry.
    const sentAt = new Map<number, number>();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) sentAt.set(i, t0); // the burst exists at t0
    for (let i = 0; i < N; i++) {
      await fetch(r.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ seq: i, ...event(i) }),
      });
    }
    const t1 = performance.now();
    return figures("naive POST loop", r, sentAt, t0, t1);
  } finally {
    await r.close();
  }
}

const PACED_RATE = 500;
const PACED_COUNT = 2000;

async function paced(send: (i: number) => void): Promise<Map<number, number>> {
  const sentAt = new Map<number, number>();
  const start = performance.now();
  for (let i = 0; i < PACED_COUNT; i++) {
    const due = start + (i * 1000) / PACED_RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((res) => setTimeout(res, wait));
    sentAt.set(i, performance.now());
    send(i);
  }
  return sentAt;
}

async function pacedSlipway(): Promise<Figures> {
  const r = await receiver();
  try {
    return await withNotifier(r.url, async (n) => {
      const t0 = performance.now();
      const sentAt = await paced((i) => void n.emit(event(i)));
      const t1 = await waitDelivered(r, PACED_COUNT);
      return figures("slipway outbox", r, sentAt, t0, t1);
    });
  } finally {
    await r.close();
  }
}

async function pacedNaive(): Promise<Figures> {
  const r = await receiver();
  try {
    const t0 = performance.now();
    const sentAt = await paced(
      (i) =>
        void fetch(r.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ seq: i, ...event(i) }),
        }).catch(() => {}),
    );
    const t1 = await waitDelivered(r, PACED_COUNT);
    return figures("naive POST per alert", r, sentAt, t0, t1);
  } finally {
    await r.close();
  }
}

const row = (f: Figures) =>
  `| ${f.name} | ${f.sent} | ${f.delivered} | ${f.duplicates} | ${f.seconds.toFixed(2)} s | ${Math.round(f.perSecond)}/s | ` +
  `${f.p50.toFixed(1)} ms | ${f.p99.toFixed(1)} ms |${f.acceptMs !== undefined ? ` accepted in ${f.acceptMs.toFixed(0)} ms |` : " |"}`;

const head =
  "| | sent | delivered | duplicates | time | throughput | event→delivery p50 | p99 | |\n|---|---|---|---|---|---|---|---|---|";

console.log(`alerts benchmark: node ${process.version}, ${cpus().length} cores\n`);
// Warm up the HTTP client and SQLite once so the first run does not pay for it.
await (async () => {
  const r = await receiver();
  await withNotifier(r.url, async (n) => {
    for (let i = 0; i < 200; i++) n.emit(event(i));
    await waitDelivered(r, 200);
  });
  await r.close();
})();

const a1 = await burstSlipway();
const a2 = await burstNaive();
console.log(`A) burst of ${N} alerts to a local webhook\n${head}\n${row(a1)}\n${row(a2)}\n`);
const b1 = await pacedSlipway();
const b2 = await pacedNaive();
console.log(`B) paced: ${PACED_COUNT} alerts at ${PACED_RATE}/s\n${head}\n${row(b1)}\n${row(b2)}\n`);
const ok = a1.delivered === N && a1.duplicates === 0 && b1.delivered === PACED_COUNT && b1.duplicates === 0;
console.log(
  `durable overhead: burst throughput ${(a1.perSecond / a2.perSecond).toFixed(2)}× the naive loop; ` +
    `paced p99 ${b1.p99.toFixed(1)} ms vs ${b2.p99.toFixed(1)} ms.`,
);
console.log(ok ? "delivered == sent, no duplicates: OK" : "MISMATCH: delivered != sent or duplicates");
if (!ok) process.exitCode = 1;
