/**
 * Charts are rendered by the real `helm template` ($SLIPWAY_HELM, else `helm` on PATH) and then
 * handled by Slipway like its own manifests, as Argo CD does: no Helm release is installed.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { DriverError } from "../../errors.js";
import type { ResolvedService } from "../../spec/resolved.js";

export interface HelmTemplateRequest {
  release: string;
  namespace: string;
  service: Pick<ResolvedService, "chart" | "values" | "valuesFiles">;
  /** The spec's directory: relative chart and values paths start there. */
  dir: string;
  helm?: string;
}

/** The arguments of `helm template` for a service's chart (values files first, then `values`). */
export function helmTemplateArgs(req: HelmTemplateRequest, valuesFile?: string): string[] {
  const chart = req.service.chart;
  if (!chart) throw new Error(`no chart`);
  const at = (p: string) => (isAbsolute(p) ? p : resolve(req.dir, p));
  const source =
    typeof chart === "string"
      ? [at(chart)]
      : [chart.name, "--repo", chart.repo, ...(chart.version ? ["--version", chart.version] : [])];
  return [
    "template",
    req.release,
    ...source,
    "--namespace",
    req.namespace,
    ...(req.service.valuesFiles ?? []).flatMap((f) => ["--values", at(f)]),
    ...(valuesFile ? ["--values", valuesFile] : []),
  ];
}

export async function helmTemplate(req: HelmTemplateRequest): Promise<KubernetesObject[]> {
  const helm = req.helm ?? process.env.SLIPWAY_HELM ?? "helm";
  const tmp = mkdtempSync(join(tmpdir(), "slipway-helm-"));
  try {
    let valuesFile: string | undefined;
    if (req.service.values && Object.keys(req.service.values).length) {
      valuesFile = join(tmp, "values.json"); // JSON is YAML
      writeFileSync(valuesFile, JSON.stringify(req.service.values), { mode: 0o600 });
    }
    const out = await new Promise<string>((ok, fail) =>
      execFile(
        helm,
        helmTemplateArgs(req, valuesFile),
        { maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) =>
          err
            ? fail(
                new DriverError(
                  "kubernetes",
                  (err as NodeJS.ErrnoException).code === "ENOENT"
                    ? `helm not found (install it, or set SLIPWAY_HELM to its path)`
                    : `helm template failed: ${stderr.trim() || err.message}`,
                ),
              )
            : ok(stdout),
      ),
    );
    return parseAllDocuments(out)
      .map((d) => d.toJSON() as KubernetesObject | null)
      .filter((o): o is KubernetesObject => !!o && typeof o === "object" && !!o.kind)
      .map((o) => ({ ...o, metadata: { namespace: req.namespace, ...o.metadata } }));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
