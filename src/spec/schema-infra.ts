/**
 * `infrastructure:` — steps a deploy runs before any service (seed 003's Terraform plan/apply,
 * seed 004's "cluster services first"). Today one kind: `terraform`.
 */
import { z } from "zod";
import { name } from "./fields.js";

export const terraformStepSchema = z
  .strictObject({
    dir: z.string().describe("The Terraform configuration's directory (relative to slipway.yaml)."),
    name: name
      .optional()
      .describe("The step's name in plans and history (default: the directory's last part)."),
    workspace: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, "expected letters, digits, - or _")
      .optional()
      .describe(
        "The Terraform workspace (selected, or created when missing); default: the environment's name.",
      ),
    vars: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("Input variables (a -var-file written 0600 for the run, then removed); ${VAR} interpolated."),
    timeout: z.string().optional().describe("How long plan and apply may each take (default 10m)."),
  })
  .describe(
    "Terraform: `plan` shows the plan summary (adds, changes, destroys) from `terraform plan -out`; a " +
      "deploy applies exactly the plan file it made and showed, before the services; outputs are " +
      "${tf.NAME} in the services' fields. A protected environment needs --allow-destroy when the plan destroys.",
  );

export const infrastructureSchema = z
  .array(z.strictObject({ terraform: terraformStepSchema }))
  .describe(
    "Steps run before the services of a deploy, in order: `- terraform: { dir: infra/, workspace: prod }`.",
  );

export type TerraformStepSpec = z.output<typeof terraformStepSchema>;
