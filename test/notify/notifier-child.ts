/**
 * A notifier in its own process, for the crash test: `fill` emits alerts and reports when they
 * are in the outbox (then idles until killed); `deliver` starts on the same store, delivers
 * everything and exits. Usage: node --import tsx notifier-child.ts MODE HOME URL COUNT
 */
import { Notifier } from "../../src/notify/index.js";
import { alertsSchema } from "../../src/spec/schema-alerts.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";

const [mode, home, url, countText] = process.argv.slice(2);
const count = Number(countText);
const store = SqliteStore.open({ home });
const notifier = new Notifier({
  store,
  project: "shop",
  env: "production",
  config: alertsSchema.parse({
    channels: { hook: { type: "webhook", url, secret: "crash-test-secret", timeout: "2s" } },
    routes: [
      { match: { event: "deploy.failed" }, receivers: ["hook"], groupBy: ["..."], groupWait: 0 },
      // These wait in their group when the process dies: the group must survive too.
      { match: { event: "backup.failed" }, receivers: ["hook"], groupBy: ["..."], groupWait: "1s" },
    ],
  }),
  retry: { initialMs: 50, maxMs: 300 },
  concurrency: 4,
});
notifier.start();

if (mode === "fill" || mode === "fill-inflight") {
  for (let i = 0; i < count; i++)
    void notifier.emit({
      project: "shop",
      env: "production",
      kind: "deploy.failed",
      severity: "critical",
      message: `alert ${i}`,
      data: { labels: { seq: i } },
    });
  for (let i = 0; i < 5; i++)
    void notifier.emit({
      project: "shop",
      env: "production",
      kind: "backup.failed",
      severity: "warning",
      message: `grouped ${i}`,
      data: { labels: { seq: i } },
    });
  const timer = setInterval(async () => {
    const s = await notifier.stats();
    const attempted = (await notifier.listDeliveries({ limit: 1000 })).some((d) => d.attempts > 0);
    const ready =
      mode === "fill" ? s.pending + s.sending + s.sent >= count && attempted : s.sending > 0 && s.sent > 0;
    if (ready) {
      process.stdout.write(`FILLED ${JSON.stringify(s)}\n`);
      clearInterval(timer);
      setInterval(() => {}, 1000); // idle until SIGKILL
    }
  }, 20);
} else {
  const s = await notifier.flush({ timeoutMs: 60_000, groups: false });
  // The backup.failed groups flush on their own schedule (1s): wait for them too.
  const s2 = s.pending + s.sending === 0 ? await notifier.flush({ timeoutMs: 60_000 }) : s;
  await notifier.stop();
  await store.close();
  process.stdout.write(`DONE ${JSON.stringify(s2)}\n`);
}
