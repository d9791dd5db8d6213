/**
 * A notifier in its own process, for the crash test: `fill` emits alerts and reports when they
 * are in the outbox (then idles until killed); `deliver` starts on the same file, delivers
 * everything and exits. Usage: node --import tsx notifier-child.ts MODE DB URL COUNT
 */
import { Notifier, openNotifyDb } from "../../src/notify/index.js";
import { alertsSchema } from "../../src/spec/schema-alerts.js";

const [mode, file, url, countText] = process.argv.slice(2);
const count = Number(countText);
const db = openNotifyDb(file);
const notifier = new Notifier({
  db,
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
    notifier.emit({
      project: "shop",
      env: "production",
      kind: "deploy.failed",
      severity: "critical",
      message: `alert ${i}`,
      data: { labels: { seq: i } },
    });
  for (let i = 0; i < 5; i++)
    notifier.emit({
      project: "shop",
      env: "production",
      kind: "backup.failed",
      severity: "warning",
      message: `grouped ${i}`,
      data: { labels: { seq: i } },
    });
  const timer = setInterval(() => {
    const s = notifier.stats();
    const attempted = notifier.listDeliveries({ limit: 1000 }).some((d) => d.attempts > 0);
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
  db.close();
  process.stdout.write(`DONE ${JSON.stringify(s2)}\n`);
}
