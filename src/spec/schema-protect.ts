/** `protect:` of an environment: confirmation, cluster context, deploy freezes (engine/protect.ts). */
import { z } from "zod";
import { parseFreeze } from "./freeze.js";

const freezeWindow = z.string().superRefine((text, ctx) => {
  const w = parseFreeze(text);
  if (typeof w === "string") ctx.addIssue({ code: "custom", message: w });
});

export const protectSchema = z
  .union([
    z
      .boolean()
      .transform((b) => ({ confirm: b as boolean | "name", context: undefined as string | undefined })),
    z.strictObject({
      confirm: z
        .union([z.boolean(), z.literal("name")])
        .default(true)
        .describe(
          "true: deploy/rollback/destroy need --yes. \"name\": they need the environment's name (the Kubernetes context's, when the target names one) typed at a terminal or given as --confirm-name NAME; --yes alone is refused. Every confirmation is recorded with who gave it.",
        ),
      context: z
        .string()
        .optional()
        .describe("The Kubernetes context (or Docker host) name must contain this text."),
      freeze: z
        .array(freezeWindow)
        .optional()
        .describe(
          'Deploy freezes: weekly ("Fri 16:00-Mon 08:00") or daily ("22:00-06:00") windows, in UTC unless followed by an IANA time zone ("Fri 16:00-Mon 08:00 Europe/Berlin"). A deploy inside one is refused (exit 4) unless --override-freeze REASON is given; the reason is recorded in the revision. Rollback and restart are not frozen.',
        ),
    }),
  ])
  .describe("Protection rules for the environment (true = { confirm: true }).");
