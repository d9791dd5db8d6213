/** Reusable zod field types for slipway.yaml: durations, sizes, percentages. */
import { z } from "zod";
import { parseDuration, parsePercent, parseSize } from "../util/units.js";

/** A duration like 500ms, 5s, 1m30s, 2h, 30d; a bare number is seconds. Parsed to milliseconds. */
export const duration = (description?: string) =>
  z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: "expected a duration like 5s" });
        return z.NEVER;
      }
      return ms;
    })
    .describe(description ?? "A duration like 500ms, 5s, 1m30s, 2h or 30d (a bare number is seconds).");

/** A size like 512Mi, 2Gi, 100MB; a bare number is bytes. Parsed to bytes. */
export const size = (description?: string) =>
  z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      const b = parseSize(v);
      if (b === undefined) {
        ctx.addIssue({ code: "custom", message: "expected a size like 512Mi or 2Gi" });
        return z.NEVER;
      }
      return b;
    })
    .describe(description ?? "A size like 512Mi, 2Gi or 100MB (a bare number is bytes).");

/** A percentage like 90% (or a ratio 0.9). Parsed to a ratio in [0, 1]. */
export const percent = (description?: string) =>
  z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      const r = parsePercent(v);
      if (r === undefined || r < 0 || r > 1) {
        ctx.addIssue({ code: "custom", message: "expected a percentage like 90%" });
        return z.NEVER;
      }
      return r;
    })
    .describe(description ?? "A percentage like 90% (or a ratio such as 0.9).");

export const name = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-_]*[a-z0-9])?$/, "expected lower-case letters, digits, - or _")
  .max(63);

export const envValue = z.union([z.string(), z.number(), z.boolean()]).transform(String);
export const envMap = z.record(z.string(), envValue).describe("Environment variables for the instances.");
export const stringOrList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]));
