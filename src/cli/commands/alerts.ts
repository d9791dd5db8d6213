import type { Cli } from "../runtime.js";
import { parseIntArg } from "../runtime.js";
import { UsageError } from "../../core.js";
import type { AlertTestResult, DeliveryView } from "../../index.js";
import { dim, green, red, yellow, type Out } from "../render.js";

const SEVERITIES = ["critical", "warning", "info"];

export function register(cli: Cli): void {
  const alerts = cli.program
    .command("alerts")
    .description("alert deliveries and route tests (see also: slipway silence)");

  alerts
    .command("list <env>")
    .description("the delivery log, newest first: time, receiver, status, attempts, title")
    .option("-n, --limit <n>", "how many deliveries", "20")
    .action(
      cli.action(async (env: string, o: { limit: string }) => {
        const limit = parseIntArg("--limit", o.limit);
        if (!limit || limit > 1000) throw new UsageError(`--limit: expected 1 to 1000, got "${o.limit}"`);
        const r = (await cli.op("alerts", cli.resolve(env, "alerts"), { action: "list", limit })) as {
          deliveries: DeliveryView[];
        };
        cli.finish(r, (out) => renderDeliveries(out, r.deliveries));
      }),
    );

  alerts
    .command("test <env>")
    .description("send a test alert through the routes now and report each receiver (exit 1 if one failed)")
    .option("--severity <level>", "critical, warning or info", "critical")
    .action(
      cli.action(async (env: string, o: { severity: string }) => {
        if (!SEVERITIES.includes(o.severity))
          throw new UsageError(`--severity: expected one of ${SEVERITIES.join(", ")}, got "${o.severity}"`);
        const r = (await cli.op("alerts", cli.resolve(env, "alerts"), {
          action: "test",
          severity: o.severity,
        })) as AlertTestResult;
        cli.finish(r, (out) => renderTest(out, r), r.ok ? 0 : 1);
      }),
    );
}

function renderDeliveries(out: Out, list: DeliveryView[]): void {
  if (!list.length) {
    out.stdout("no deliveries yet (try: slipway alerts test ENV)");
    return;
  }
  const rows = list.map((d) => [
    d.time.replace("T", " ").replace(/\.\d+Z$/, "Z"),
    d.receiver,
    d.status,
    String(d.attempts),
    d.title,
  ]);
  const head = ["TIME", "RECEIVER", "STATUS", "ATTEMPTS", "TITLE"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i])))
      .join("  ")
      .trimEnd();
  out.stdout(dim(out, line(head)));
  list.forEach((d, i) => {
    const colour = d.status === "sent" ? green : d.status === "failed" ? red : yellow;
    const cells = [...rows[i]];
    cells[2] = colour(out, cells[2].padEnd(w[2]));
    out.stdout(line(cells));
    if (d.lastError && d.status !== "sent")
      out.stdout(
        dim(out, `    last error: ${d.lastError}${d.nextAttemptAt ? ` (next try ${d.nextAttemptAt})` : ""}`),
      );
  });
}

function renderTest(out: Out, r: AlertTestResult): void {
  if (r.silencedBy) {
    const s = r.silencedBy;
    out.stdout(
      yellow(
        out,
        `test alert (${r.severity}) for ${r.project}/${r.env} is silenced by ${s.id} until ${s.endsAt}`,
      ),
    );
    out.stdout(
      dim(
        out,
        `  ${s.comment} (${s.author}); nothing was sent. End it with: slipway silence expire ${r.env} ${s.id}`,
      ),
    );
    return;
  }
  out.stdout(`test alert (${r.severity}) for ${r.project}/${r.env}:`);
  for (const d of r.deliveries) {
    const what = `${d.receiver} (${d.channelType})`;
    if (d.status === "sent")
      out.stdout(`  ${green(out, "✔")} ${what}: sent${d.detail ? dim(out, `  ${d.detail}`) : ""}`);
    else if (d.status === "failed")
      out.stdout(`  ${red(out, "✖")} ${what}: failed: ${d.error ?? "unknown error"}`);
    else
      out.stdout(
        `  ${yellow(out, "…")} ${what}: not sent yet after ${d.attempts} attempt(s)` +
          (d.error ? `: ${d.error}` : "") +
          dim(out, " (the daemon keeps retrying; see: slipway alerts list)"),
      );
  }
}
