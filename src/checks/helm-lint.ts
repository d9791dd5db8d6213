/**
 * The automatic pre-flight item for services deployed from a local Helm chart: `helm lint` with
 * the service's values files and values ($SLIPWAY_HELM, else `helm` on PATH), so a broken chart
 * fails the checklist instead of the rollout. Charts from a repository are linted by `helm
 * template` when they are rendered, and reported as skipped here.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { AutomaticCheck } from "./types.js";
import { failed, passed } from "./types.js";

/** The slice of a resolved service this needs. */
export interface ChartService {
  name: string;
  chart?: string | { repo: string; name: string; version?: string };
  values?: Record<string, unknown>;
  valuesFiles?: string[];
}

export function helmLintChecks(services: Iterable<ChartService>, dir: string): AutomaticCheck[] {
  const out: AutomaticCheck[] = [];
  for (const s of services) {
    const chart = s.chart;
    if (chart === undefined) continue;
    out.push({
      name: `helm lint ${s.name}`,
      kind: "command",
      timeoutMs: 60_000,
      async run(run) {
        if (typeof chart !== "string")
          return {
            status: "skipped",
            evidence: `${chart.name} comes from ${chart.repo}: linted when rendered`,
          };
        const at = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
        const tmp = mkdtempSync(join(tmpdir(), "slipway-lint-"));
        try {
          const values = s.values && Object.keys(s.values).length ? join(tmp, "values.json") : undefined;
          if (values) writeFileSync(values, JSON.stringify(s.values));
          const args = [
            "lint",
            at(chart),
            ...(s.valuesFiles ?? []).flatMap((f) => ["--values", at(f)]),
            ...(values ? ["--values", values] : []),
          ];
          const helm = process.env.SLIPWAY_HELM ?? "helm";
          const r = await new Promise<{ code: number; text: string }>((ok) =>
            execFile(helm, args, { signal: run.signal, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) =>
              ok({
                code: err ? (typeof err.code === "number" ? err.code : 127) : 0,
                text: (err && (err as NodeJS.ErrnoException).code === "ENOENT"
                  ? "helm not found (install it, or set SLIPWAY_HELM to its path)"
                  : `${stdout}${stderr}`
                ).trim(),
              }),
            ),
          );
          const lines = r.text
            .split("\n")
            .filter((l) => /\[(ERROR|WARNING)\]|Error:|not found|linted/.test(l));
          const evidence = lines.slice(0, 5).join("; ") || r.text.split("\n").slice(-1)[0] || "";
          return r.code === 0 ? passed(evidence) : failed(evidence);
        } finally {
          rmSync(tmp, { recursive: true, force: true });
        }
      },
    });
  }
  return out;
}
