/**
 * `slipway plan ENV --out FILE` then `slipway deploy ENV --plan FILE`, with the real terraform
 * binary and its built-in `terraform_data` resource (no provider downloads): the deploy applies
 * the saved plan (its release, its Terraform plan file), and refuses (exit 4, naming what moved)
 * a damaged file, a plan whose environment, spec or Terraform state moved since, and a protected
 * environment's destroying plan without --allow-destroy.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeProject, type Project } from "./harness.js";

const hasTerraform = spawnSync("terraform", ["version"], { encoding: "utf8" }).status === 0;
if (!hasTerraform) console.log("skipping the saved-plan terraform tests: no terraform binary on PATH");

const MAIN_TF = `
variable "greeting" { type = string }
resource "terraform_data" "api" {
  input            = "http://api.internal/\${var.greeting}"
  triggers_replace = var.greeting
}
output "api_url" { value = terraform_data.api.output }
`;

let p: Project;
beforeAll(async () => {
  if (!hasTerraform) return;
  p = await makeProject(
    'infrastructure:\n  - terraform: { dir: infra, vars: { greeting: "${GREETING:-hi}" } }\n' +
      "runbooks:\n" +
      '  infra: { steps: [ { terraform: { dir: ops, vars: { greeting: "${RB:-a}" } } } ] }\n' +
      '  infra-force: { steps: [ { allowDestroy: true, terraform: { dir: ops, vars: { greeting: "${RB:-a}" } } } ] }\n',
  );
  for (const d of ["infra", "ops"]) {
    spawnSync("mkdir", [join(p.dir, d)]);
    writeFileSync(join(p.dir, d, "main.tf"), MAIN_TF);
  }
  writeFileSync(
    p.file,
    readFileSync(p.file, "utf8").replace(
      '      RELEASE: "${VERSION}"\n      FAIL_HEALTH',
      '      RELEASE: "${VERSION}"\n      API_URL: "${tf.api_url}"\n      FAIL_HEALTH',
    ),
  );
});
afterAll(async () => p?.cleanup());

interface StatusJson {
  result: { services: { name: string; instances: { pid?: number; revision: number }[] }[] };
}
async function apiUrl(): Promise<string | undefined> {
  const s = (await p.cliAsync(["status", "production", "--json"])).json<StatusJson>().result;
  const pid = s.services.find((x) => x.name === "api")!.instances[0].pid!;
  const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  return env.find((l) => l.startsWith("API_URL="))?.slice("API_URL=".length);
}

interface RunJson {
  result: {
    status: string;
    steps: { name: string; status: string; evidence: string; terraform?: Record<string, unknown> }[];
  };
}

describe.skipIf(!hasTerraform)("saved plans: plan --out, deploy --plan", () => {
  it("runs a runbook's terraform step: plan, apply, summary and outputs in the report", async () => {
    const first = await p.cliAsync(["run", "production", "infra", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const step = first.json<RunJson>().result.steps[0];
    expect(step).toMatchObject({ name: "terraform ops", status: "passed" });
    expect(step.evidence).toBe(
      "applied: terraform ops, workspace production: 1 to add, 0 to change, 0 to destroy",
    );
    expect(step.terraform).toMatchObject({
      add: 1,
      applied: true,
      outputs: { api_url: "http://api.internal/a" },
    });
    expect(
      readFileSync(join(p.dir, "ops", "terraform.tfstate.d", "production", "terraform.tfstate"), "utf8"),
    ).toMatch(/api\.internal\/a/);

    // A replacement in a protected environment: not applied unless the step says allowDestroy.
    const b = { RB: "b" };
    const refused = await p.cliAsync(["run", "production", "infra", "--json"], { env: b });
    expect(refused.code).toBe(1);
    const r = refused.json<RunJson>().result;
    expect(r.status).toBe("failed");
    expect(r.steps[0].evidence).toMatch(
      /not applied: .*1 to destroy \(terraform_data\.api\); production is protected/,
    );
    const forced = await p.cliAsync(["run", "production", "infra-force", "--json"], { env: b });
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.json<RunJson>().result.steps[0].terraform).toMatchObject({
      destroy: 1,
      applied: true,
      outputs: { api_url: "http://api.internal/b" },
    });
    const human = await p.cliAsync(["run", "production", "infra-force"], { env: b });
    expect(human.stdout + human.stderr).toMatch(
      /terraform ops, workspace production: no changes: nothing to apply/,
    );
  }, 180_000);

  it("applies exactly the reviewed plan, and refuses one that no longer applies", async () => {
    const file = (n: string) => join(p.dir, `${n}.plan`);
    const saved = await p.cliAsync(["plan", "production", "--version", "v1", "--out", file("one")]);
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.stdout).toMatch(/terraform infra, workspace production: 1 to add/);
    expect(saved.stdout).toMatch(/slipway deploy production --plan /);
    expect(statSync(file("one")).mode & 0o777).toBe(0o600);

    // A damaged file: an edited step, or not JSON at all.
    const doc = readFileSync(file("one"), "utf8");
    writeFileSync(file("edited"), doc.replace("1 to add", "0 to add"));
    const edited = await p.cliAsync(["deploy", "production", "--plan", file("edited"), "--yes"]);
    expect(edited.code).toBe(4);
    expect(edited.stderr).toMatch(/plan file is damaged \(its digest does not match/);
    writeFileSync(file("cut"), doc.slice(0, 200));
    const cut = await p.cliAsync(["deploy", "production", "--plan", file("cut"), "--yes"]);
    expect(cut.code).toBe(4);
    expect(cut.stderr).toMatch(/is damaged/);

    // The release comes from the plan (no --version); the protected environment still asks for --yes.
    const noYes = await p.cliAsync(["deploy", "production", "--plan", file("one")]);
    expect(noYes.code).toBe(4);
    const ok = await p.cliAsync(["deploy", "production", "--plan", file("one"), "--yes", "--json"]);
    expect(ok.code, ok.stderr).toBe(0);
    const r = ok.json<{ result: { version: string; revision: number } }>().result;
    expect(r).toMatchObject({ version: "v1", revision: 1 });
    expect(await apiUrl()).toBe("http://api.internal/hi");
    const hist = (await p.cliAsync(["history", "production", "1", "--json"])).json<{
      result: { revision: { facts: { savedPlan?: { digest: string } } } }[];
    }>().result;
    expect(hist[0].revision.facts.savedPlan?.digest).toBe(JSON.parse(doc).digest);

    // The same plan again: the environment moved (revision 1 is deployed now).
    const again = await p.cliAsync(["deploy", "production", "--plan", file("one"), "--yes"]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(
      /production moved since the plan was made: nothing was deployed then, now revision 1/,
    );

    // The spec changed since the plan was made: named.
    expect((await p.cliAsync(["plan", "production", "--version", "v2", "--out", file("two")])).code).toBe(0);
    const spec = readFileSync(p.file, "utf8");
    writeFileSync(p.file, spec.replace("    env: { RELEASE:", "    env: { EXTRA: x, RELEASE:"));
    const changed = await p.cliAsync(["deploy", "production", "--plan", file("two"), "--yes"]);
    expect(changed.code).toBe(4);
    expect(changed.stderr).toMatch(/the spec changed since the plan was made: services\.worker/);
    writeFileSync(p.file, spec);

    // A destroying plan (a new greeting replaces terraform_data), then the state moves outside Slipway.
    const yo = { GREETING: "yo" };
    const three = await p.cliAsync(["plan", "production", "--version", "v3", "--out", file("three")], {
      env: yo,
    });
    expect(three.stdout).toMatch(/1 to add, 0 to change, 1 to destroy \(terraform_data\.api\)/);
    const outside = spawnSync(
      "terraform",
      ["apply", "-auto-approve", "-input=false", "-no-color", "-var", "greeting=zz"],
      { cwd: join(p.dir, "infra"), env: { ...process.env, TF_WORKSPACE: "production" }, encoding: "utf8" },
    );
    expect(outside.status, outside.stderr).toBe(0);
    const stale = await p.cliAsync(
      ["deploy", "production", "--plan", file("three"), "--yes", "--allow-destroy"],
      { env: yo },
    );
    expect(stale.code).toBe(4);
    expect(stale.stderr).toMatch(
      /infra: the Terraform state changed since the plan was made \(serial \d+ then, serial \d+ now\): the plan is stale/,
    );
    expect(await apiUrl()).toBe("http://api.internal/hi");

    // A fresh plan destroys too: a protected environment needs --allow-destroy on top of --yes.
    expect(
      (await p.cliAsync(["plan", "production", "--version", "v4", "--out", file("four")], { env: yo })).code,
    ).toBe(0);
    const refused = await p.cliAsync(["deploy", "production", "--plan", file("four"), "--yes"], { env: yo });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(
      /destroys 1 resource\(s\) in infra \(terraform_data\.api\).*--allow-destroy/,
    );
    const applied = await p.cliAsync(
      ["deploy", "production", "--plan", file("four"), "--yes", "--allow-destroy"],
      { env: yo },
    );
    expect(applied.code, applied.stderr).toBe(0);
    expect(await apiUrl()).toBe("http://api.internal/yo");
  }, 300_000);
});
