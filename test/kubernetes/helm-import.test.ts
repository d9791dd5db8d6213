/**
 * `slipway init --from-helm RELEASE` against a real Helm release: installed by the real helm v4 into
 * the Kubernetes API server DOUBLE (test/support/kube-apiserver-double.ts), with helm's SQL storage
 * driver on a real PostgreSQL (helm's default storage, Secrets, is sent as protobuf, which the double
 * does not speak; `HELM_DRIVER=sql` is a storage helm supports for real clusters too).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubeDouble, type KubeApiServerDouble } from "../support/kube-apiserver-double.js";
import { kubeTools } from "../support/kube-tools.js";
import { startPostgres, type PgServer } from "../support/postgres.js";
import { inProcessCli } from "./fixtures.js";

let double: KubeApiServerDouble;
let pg: PgServer;
let dir: string;
let env: NodeJS.ProcessEnv;

const cli = (args: string[]) => inProcessCli(join(dir, ".home"), dir, args, env);

beforeAll(async () => {
  [double, pg] = await Promise.all([startKubeDouble(), startPostgres()]);
  dir = mkdtempSync(join(tmpdir(), "slipway-helm-import-"));
  const chart = join(dir, "src-chart");
  mkdirSync(join(chart, "templates"), { recursive: true });
  writeFileSync(join(chart, "Chart.yaml"), "apiVersion: v2\nname: tools\nversion: 0.3.1\n");
  writeFileSync(join(chart, "values.yaml"), "replicaCount: 1\ngreeting: hello\n");
  writeFileSync(
    join(chart, "templates", "config.yaml"),
    "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: {{ .Release.Name }}-config }\ndata: { n: {{ .Values.replicaCount | quote }}, greeting: {{ .Values.greeting | quote }} }\n",
  );
  writeFileSync(join(dir, "kubeconfig"), double.kubeconfig({ context: "plat-ctx", cluster: "plat-1" }));
  env = {
    ...process.env,
    NO_COLOR: "1",
    KUBECONFIG: join(dir, "kubeconfig"),
    SLIPWAY_HELM: kubeTools().helm,
    HELM_DRIVER: "sql",
    HELM_DRIVER_SQL_CONNECTION_STRING: `${pg.url}${pg.url.includes("?") ? "&" : "?"}sslmode=disable`,
  };
  // A release as a team has it today: installed by helm with values of its own.
  double.store.put("/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "plat" } });
  // Not execFileSync: the double answers helm from this very process.
  await promisify(execFile)(
    kubeTools().helm,
    ["install", "platform-tools", chart, "-n", "plat", "--disable-openapi-validation"].concat([
      "--set",
      "replicaCount=3",
      "--set",
      "greeting=hi from helm",
    ]),
    { env },
  );
}, 120_000);
afterAll(async () => {
  await double?.close();
  await pg?.stop();
});

describe("slipway init --from-helm (real helm release on the API server double)", () => {
  it("writes a chart service named after the release and its values file; render uses those values", async () => {
    const r = await cli(["--json", "init", "--from-helm", "platform-tools", "--namespace", "plat"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const out = JSON.parse(r.stdout) as { result: { chart: { name: string; version: string } } };
    expect(out.result.chart).toEqual({ name: "tools", version: "0.3.1" });
    const spec = readFileSync(join(dir, "slipway.yaml"), "utf8");
    expect(spec).toContain("target: { kind: kubernetes, context: plat-ctx, namespace: plat }");
    expect(spec).toMatch(/\n {2}platform-tools: #/);
    expect(spec).toContain("valuesFiles: [values-platform-tools.yaml]");
    const values = readFileSync(join(dir, "values-platform-tools.yaml"), "utf8");
    expect(values).toContain("replicaCount: 3");
    expect(values).toContain("greeting: hi from helm");
    expect(statSync(join(dir, "values-platform-tools.yaml")).mode & 0o777).toBe(0o600);
    // With the chart where the spec says, the render is the release's objects under their names.
    cpSync(join(dir, "src-chart"), join(dir, "charts", "tools"), { recursive: true });
    const rd = await cli(["render", "production"]);
    expect(rd.code, rd.stderr).toBe(0);
    expect(rd.stdout).toContain("name: platform-tools-config");
    expect(rd.stdout).toContain("greeting: hi from helm");
    // Again without --force: refused, nothing overwritten.
    const again = await cli(["init", "--from-helm", "platform-tools", "--namespace", "plat"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists");
  });

  it("a release that does not exist: helm's message, exit 2", async () => {
    const r = await cli(["init", "--from-helm", "nope", "--namespace", "plat", "--file", "other.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/helm get metadata nope \(namespace plat\): .*not found/);
  });
});
