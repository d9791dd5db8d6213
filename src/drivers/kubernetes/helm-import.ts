/**
 * `slipway init --from-helm RELEASE`: a slipway.yaml for an installed Helm release, read with the
 * real helm (`helm get metadata` and `helm get values`): one chart service named after the release
 * (so its objects keep their names), the release's user-supplied values in a values file, and a
 * Kubernetes environment on the kubeconfig context and namespace the release lives in.
 */
import { execFile } from "node:child_process";
import { UsageError } from "../../errors.js";
import { liveKubeContext } from "./context-check.js";

export interface HelmImportRequest {
  release: string;
  namespace: string;
  /** The kubeconfig context (default: the current one). */
  context?: string;
  helm?: string;
  env?: NodeJS.ProcessEnv;
}

export interface HelmImport {
  spec: string;
  /** The release's user-supplied values (`helm get values`), for `values-<release>.yaml`. */
  values: string;
  valuesFile: string;
  chart: { name: string; version: string };
  notes: string[];
}

function helmRun(req: HelmImportRequest, args: string[]): Promise<string> {
  const helm = req.helm ?? req.env?.SLIPWAY_HELM ?? process.env.SLIPWAY_HELM ?? "helm";
  const all = [
    ...args,
    "--namespace",
    req.namespace,
    ...(req.context ? ["--kube-context", req.context] : []),
  ];
  return new Promise((ok, fail) =>
    execFile(
      helm,
      all,
      { env: req.env ?? process.env, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err
          ? fail(
              new UsageError(
                (err as NodeJS.ErrnoException).code === "ENOENT"
                  ? "helm not found (install it, or set SLIPWAY_HELM to its path)"
                  : `helm ${args.slice(0, 2).join(" ")} ${req.release} (namespace ${req.namespace}): ${stderr.trim() || err.message}`,
              ),
            )
          : ok(stdout),
    ),
  );
}

export async function importHelmRelease(req: HelmImportRequest): Promise<HelmImport> {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(req.release))
    throw new UsageError(`--from-helm ${req.release}: not a Helm release name`);
  const meta = JSON.parse(await helmRun(req, ["get", "metadata", req.release, "-o", "json"])) as {
    chart?: string;
    version?: string;
    revision?: number;
  };
  const values = await helmRun(req, ["get", "values", req.release, "-o", "yaml"]);
  const chart = { name: meta.chart ?? req.release, version: meta.version ?? "" };
  const context = req.context ?? liveKubeContext({}, req.env ?? process.env);
  const valuesFile = `values-${req.release}.yaml`;
  const target = [
    "kind: kubernetes",
    ...(context ? [`context: ${context}`] : []),
    `namespace: ${req.namespace}`,
  ].join(", ");
  const spec = `# Imported from Helm release ${req.release} (chart ${chart.name} ${chart.version}, revision ${meta.revision ?? "?"}) by slipway init --from-helm.
# See docs/kubernetes.md "Helm charts": Slipway renders the chart with helm template and applies it itself.
project: ${req.release}

environments:
  production:
    target: { ${target} }
    protect: true

services:
  ${req.release}: # the release's name: the chart's objects keep their names
    # Helm records no chart repository: put the chart here, or give { repo: https://…, name: ${chart.name}, version: "${chart.version}" }
    chart: ./charts/${chart.name}
    valuesFiles: [${valuesFile}] # the release's values (helm get values)
`;
  const notes = [
    `the chart: Helm does not record where ${chart.name} ${chart.version} came from; put it in ./charts/${chart.name} (helm pull --untar) or name its repository`,
    `${valuesFile} holds the release's values as Helm stored them: move secrets to \${VARS} in \`values\` before you commit it`,
    `Helm's release record stays until you drop it: kubectl delete secret -l owner=helm,name=${req.release} -n ${req.namespace} (after the first slipway deploy)`,
  ];
  return { spec, values: values.trim() === "null" ? "{}\n" : values, valuesFile, chart, notes };
}
