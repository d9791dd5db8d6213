/**
 * The slipway.yaml fields for groups of services (seed 004's layers: cluster services → tools →
 * apps): `group:` on a service, and the optional top-level `groups:` naming their order and members.
 */
import { z } from "zod";
import { name } from "./fields.js";

export const groupField = name
  .optional()
  .describe(
    "The group this service belongs to (`deploy ENV --group G`, `--skip-group G`). Groups deploy in " +
      "the order of `groups:` (else in order of first use), each after the one before is healthy; " +
      "services without a group are in the group `default`, which comes last unless `groups:` places it.",
  );

const groupEntry = z.union([
  name.describe("A group's name."),
  z.strictObject({
    name: name.describe("The group's name."),
    members: z
      .array(z.string())
      .optional()
      .describe("Services in this group (the same as `group:` on each of them)."),
    description: z.string().optional().describe("What the group holds (shown by `plan`)."),
  }),
]);

export const groupsSchema = z
  .array(groupEntry)
  .describe(
    "The groups of services, in deploy order: a name, or { name, members, description }. A failure in " +
      "a later group rolls back the earlier ones too, as a failed dependency layer does.",
  );

export type GroupEntry = z.output<typeof groupEntry>;
