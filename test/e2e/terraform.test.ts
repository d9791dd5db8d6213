/**
 * `infrastructure: [{ terraform: … }]` with the real terraform binary and its built-in
 * `terraform_data` resource (no provider downloads): `plan` shows the summary, `deploy` applies
 * the plan file before the services, outputs reach the services as ${tf.NAME} (also one known
 * only after the apply), an unchanged plan keeps the services, and a protected environment
 * refuses a destroying plan without --allow-destroy.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeProject, type Project } from "./harness.js";

const hasTerraform = spawnSync("terraform", ["version"], { encoding: "utf8" }).status === 0;
if (!hasTerraform) console.log("skipping the terraform tests: no terraform binary on PATH");

const MAIN_TF = `
variable "greeting" { type = string }
resource "terraform_data" "api" {
  input            = "http://api.internal/\${var.greeting}"
  triggers_replace = var.greeting
}
output "api_url" { value = terraform_data.api.output }
output "region" { value = "eu-\${var.greeting}" }
`;

let p: Project;
beforeAll(async () => {
  if (!hasTerraform) return;
  p = await makeProject(
    'infrastructure:\n  - terraform: { dir: infra, vars: { greeting: "${GREETING:-hi}" } }\n',
  );
  mkdirSync(join(p.dir, "infra"));
  writeFileSync(join(p.dir, "infra", "main.tf"), MAIN_TF);
  const spec = readFileSync(p.file, "utf8")
    .replace(
      "  development:\n    target: process\n",
      "  development:\n    target: process\n    protect: true\n",
    )
    .replace(
      '      RELEASE: "${VERSION}"\n      FAIL_HEALTH',
      '      RELEASE: "${VERSION}"\n      API_URL: "${tf.api_url}"\n      REGION: "${tf.region}"\n      FAIL_HEALTH',
    );
  writeFileSync(p.file, spec);
});
afterAll(async () => p?.cleanup());

interface StatusJson {
  result: { services: { name: string; instances: { pid?: number; revision: number }[] }[] };
}
// Spawned asynchronously: long synchronous spawns starve vitest's worker of its event loop.
async function apiEnv(): Promise<Record<string, string>> {
  const s = (await p.cliAsync(["status", "development", "--json"])).json<StatusJson>().result;
  const pid = s.services.find((x) => x.name === "api")!.instances[0].pid!;
  const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  return Object.fromEntries(
    env.filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}
const apiRevision = () =>
  p
    .cli(["status", "development", "--json"])
    .json<StatusJson>()
    .result.services.find((x) => x.name === "api")!.instances[0].revision;

describe.skipIf(!hasTerraform)("terraform infrastructure steps", () => {
  it("plans, applies the plan file, passes outputs, keeps unchanged services, guards destroys", async () => {
    const plan = await p.cliAsync(["plan", "development", "--json"]);
    expect(plan.code, plan.stderr).toBe(0);
    const step = plan
      .json<{ result: { steps: { kind: string; description: string; infra?: { add: number } }[] } }>()
      .result.steps.find((s) => s.kind === "terraform");
    expect(step?.description).toBe(
      "terraform infra, workspace development: 1 to add, 0 to change, 0 to destroy",
    );
    expect((await p.cliAsync(["plan", "development"])).stdout).toMatch(
      /1\. terraform infra, workspace development: 1 to add/,
    );

    const first = await p.cliAsync(["deploy", "development", "--version", "v1", "--yes"]);
    expect(first.code, first.stderr).toBe(0);
    expect(existsSync(join(p.dir, "infra", "terraform.tfstate.d", "development", "terraform.tfstate"))).toBe(
      true,
    );
    expect(await apiEnv()).toMatchObject({ API_URL: "http://api.internal/hi", REGION: "eu-hi" });

    // Same release, same infrastructure: "no changes", api kept as it runs.
    const again = await p.cliAsync(["deploy", "development", "--version", "v1", "--yes", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    const steps = again.json<{ result: { steps: { kind: string; service?: string; message?: string }[] } }>()
      .result.steps;
    expect(steps.find((s) => s.kind === "terraform")?.message).toMatch(/no changes: nothing to apply/);
    expect(steps.find((s) => s.service === "api" && (s.kind === "carry" || s.kind === "rollout"))?.kind).toBe(
      "carry",
    );
    expect(await apiRevision()).toBe(1);

    // A new greeting replaces terraform_data (destroy + add): refused in a protected environment…
    const env = { GREETING: "yo" };
    const refused = await p.cliAsync(["deploy", "development", "--version", "v2", "--yes"], { env });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(
      /destroys 1 resource\(s\) in infra \(terraform_data\.api\).*--allow-destroy/,
    );
    expect((await apiEnv()).API_URL).toBe("http://api.internal/hi");
    // …and applied with --allow-destroy; the new output (known only after the apply) reaches api.
    const ok = await p.cliAsync(["deploy", "development", "--version", "v2", "--yes", "--allow-destroy"], {
      env,
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(await apiEnv()).toMatchObject({ API_URL: "http://api.internal/yo", REGION: "eu-yo" });

    // A rollback re-applies revision 1's services with the outputs it ran with.
    const rb = await p.cliAsync(["rollback", "development", "1", "--yes"]);
    expect(rb.code, rb.stderr).toBe(0);
    expect((await apiEnv()).API_URL).toBe("http://api.internal/hi");

    // A reference to no output is a located usage error.
    writeFileSync(p.file, readFileSync(p.file, "utf8").replace("${tf.region}", "${tf.regoin}"));
    const bad = await p.cliAsync(["plan", "development"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/\$\{tf\.regoin\}: not an output of infra/);
  }, 240_000);
  it("a terraform binary that is not there: exit 2 naming where it was looked for, nothing planned", () => {
    writeFileSync(p.file, readFileSync(p.file, "utf8").replace("${tf.regoin}", "${tf.region}"));
    const missing = join(p.dir, "no-terraform");
    const r = p.cli(["--in-process", "plan", "development"], { env: { SLIPWAY_TERRAFORM: missing } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`terraform not found at SLIPWAY_TERRAFORM=${missing}: needed by infra`);
    const path = p.cli(["--in-process", "plan", "development"], {
      env: { PATH: dirname(process.execPath), SLIPWAY_TERRAFORM: "" },
    });
    expect(path.code, path.stderr).toBe(2);
    expect(path.stderr).toContain("terraform is not installed (not on PATH; set SLIPWAY_TERRAFORM)");
  });
});
