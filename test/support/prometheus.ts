/**
 * A real Prometheus (Debian's `prometheus` package) for tests: a loopback port, a config in a
 * temp dir scraping the given targets every second, TSDB storage in the same temp dir.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./ports.js";

export interface PrometheusServer {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  dir: string;
  /** Resolves once every target has been scraped successfully at least once. */
  waitForTargetsUp(timeoutMs?: number): Promise<void>;
  /** Instant query through the HTTP API; the raw `data` of a successful answer. */
  query(q: string): Promise<{ resultType: string; result: unknown }>;
  stop(): Promise<void>;
}

export async function startPrometheus(opts: {
  /** host:port of the targets scraped (path /metrics). */
  targets: string[];
  scrapeIntervalMs?: number;
  /** Content of a rule file (alerting/recording rules), evaluated at the scrape interval. */
  rules?: string;
  /** Sent as `Authorization: Bearer …` on every scrape (from a 0600 credentials file). */
  bearerToken?: string;
}): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-prometheus-"));
  const port = await freePort();
  const every = `${Math.max(1, Math.round((opts.scrapeIntervalMs ?? 1000) / 1000))}s`;
  const config = [
    "global:",
    `  scrape_interval: ${every}`,
    `  scrape_timeout: ${every}`,
    `  evaluation_interval: ${every}`,
    ...(opts.rules ? ["rule_files:", `  - ${JSON.stringify(join(dir, "rules.yml"))}`] : []),
    "scrape_configs:",
    "  - job_name: app",
    ...(opts.bearerToken
      ? ["    authorization:", `      credentials_file: ${JSON.stringify(join(dir, "token"))}`]
      : []),
    "    static_configs:",
    `      - targets: [${opts.targets.map((t) => JSON.stringify(t)).join(", ")}]`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "prometheus.yml"), config);
  if (opts.bearerToken) writeFileSync(join(dir, "token"), opts.bearerToken, { mode: 0o600 });
  if (opts.rules) writeFileSync(join(dir, "rules.yml"), opts.rules);
  const child: ChildProcess = spawn(
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=1h",
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let exited = false;
  const exit = new Promise<void>((r) =>
    child.on("exit", () => {
      exited = true;
      r();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const cleanup = async () => {
    if (!exited) child.kill("SIGKILL");
    await exit;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`prometheus exited: ${stderr}`);
        const r = await fetch(`${url}/-/ready`).catch(() => undefined);
        return r?.ok;
      },
      { what: "prometheus to be ready", timeoutMs: 60_000 },
    );
  } catch (e) {
    await cleanup();
    throw e;
  }

  const query = async (q: string) => {
    const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`);
    const doc = (await r.json()) as {
      status: string;
      error?: string;
      data: { resultType: string; result: unknown };
    };
    if (doc.status !== "success") throw new Error(`query ${q}: ${doc.error}`);
    return doc.data;
  };

  return {
    url,
    port,
    dir,
    query,
    async waitForTargetsUp(timeoutMs = 30_000) {
      await waitFor(
        async () => {
          const d = await query("up");
          const up = (d.result as { value: [number, string] }[]).filter((s) => s.value[1] === "1");
          return up.length >= opts.targets.length;
        },
        { what: "prometheus to scrape its targets", timeoutMs },
      );
    },
    async stop() {
      if (!exited) child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exit;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
