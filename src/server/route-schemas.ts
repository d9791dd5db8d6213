/** Request bodies of the daemon's non-operation routes: validated by the handlers, described in /v1/openapi.json. */
import { z } from "zod";

const userName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._@-]{0,63}$/i, "letters, digits, . _ @ - (at most 64)")
  .describe("a user or token name");
const role = z.enum(["viewer", "operator", "deployer", "admin"]);
const grants = z
  .record(z.string().min(1).max(200), role)
  .refine((g) => Object.keys(g).length <= 200, "at most 200 grants")
  .describe("per-environment roles: `staging` or `project/staging` → role");
const password = z.string().min(12, "at least 12 characters").max(1024);

export const LOGIN = z.object({ name: userName, password: z.string().min(1).max(1024) });

export const NEW_USER = z.object({
  name: userName,
  role: role.describe("the role everywhere a grant does not say otherwise"),
  grants: grants.default({}),
  password: password.optional().describe("absent: the user cannot log in until `users passwd`"),
});

export const CHANGE_USER = z.object({
  role: role.optional(),
  grants: grants.optional(),
  password: password.optional(),
});

export const NEW_TOKEN = z.object({
  name: userName,
  role: z.enum(["viewer", "operator", "deployer", "admin", "metrics"]).default("viewer"),
  grants: grants.default({}),
  expiresInMs: z
    .number()
    .int()
    .min(60_000)
    .max(10 * 365 * 86_400_000)
    .optional()
    .describe("lifetime in milliseconds; absent: no expiry"),
});

export const EVENTS_QUERY = z.object({
  env: z.string().min(1).max(200).optional().describe("only this environment"),
  project: z.string().min(1).max(200).optional().describe("only this project"),
});
