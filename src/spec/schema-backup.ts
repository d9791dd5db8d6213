/**
 * A stateful service's `backup:` block (issue 7). The schema is the documentation: every field
 * is described, and cross-field rules (a database type needs `url`, files need `paths`) are
 * reported on the field that is missing.
 */
import { Cron } from "croner";
import { z } from "zod";
import { duration } from "./fields.js";

const cron = (description: string) =>
  z
    .string()
    .superRefine((v, ctx) => {
      try {
        new Cron(v, { paused: true });
      } catch (e) {
        ctx.addIssue({
          code: "custom",
          message: `invalid cron expression "${v}": ${e instanceof Error ? e.message : String(e)}`,
        });
      }
    })
    .describe(description);

export const backupTypes = ["postgres", "mysql", "mariadb", "redis", "files", "volume"] as const;

export const retentionSchema = z
  .strictObject({
    keepLast: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("Keep at most this many successful backups of the service (newest first)."),
    maxAge: duration("Delete backups older than this (default 30d).").default(30 * 24 * 3600 * 1000),
  })
  .describe(
    "Which backups `slipway backups prune` (and the scheduler) deletes. The newest verified backup " +
      "and the newest successful backup are never deleted.",
  );

export const backupSchema = z
  .strictObject({
    type: z
      .enum(backupTypes)
      .describe(
        "postgres (pg_dump custom format), mysql/mariadb (mariadb-dump), redis (RDB snapshot), files " +
          "(tar.gz of paths) or volume (tar.gz of Docker volumes on the local engine).",
      ),
    url: z
      .string()
      .optional()
      .describe(
        "postgres/mysql/redis: the connection URL, e.g. ${DATABASE_URL}. The password is passed to the " +
          "dump tools through the environment, never on a command line, and never stored.",
      ),
    paths: z
      .array(z.string().min(1))
      .optional()
      .describe("files: files and directories archived (relative paths are relative to slipway.yaml)."),
    volumes: z
      .array(z.string().min(1))
      .optional()
      .describe("volume: names of the Docker volumes archived (local engine)."),
    before: z
      .enum(["deploy"])
      .optional()
      .describe(
        "deploy: back up as the step before any change of a deploy; the id is recorded in the revision.",
      ),
    schedule: cron('Cron expression for scheduled backups, e.g. "0 2 * * *".').optional(),
    verify: z
      .union([z.literal(true), cron("")])
      .optional()
      .describe(
        "true: verify every backup right after it is taken; a cron expression: verify the newest backup " +
          "on that schedule. Verifying restores into a scratch database or directory and compares it.",
      ),
    retention: retentionSchema.prefault({}),
  })
  .superRefine((b, ctx) => {
    const need = (field: "url" | "paths" | "volumes", why: string) =>
      ctx.addIssue({
        code: "custom",
        path: [field],
        message: `a ${b.type} backup needs "${field}" (${why})`,
      });
    if (["postgres", "mysql", "mariadb", "redis"].includes(b.type) && !b.url)
      need("url", "the connection URL");
    if (b.type === "files" && !b.paths?.length) need("paths", "the files and directories to archive");
    if (b.type === "volume" && !b.volumes?.length) need("volumes", "the Docker volume names");
    if (b.url && /^\s*$/.test(b.url))
      ctx.addIssue({ code: "custom", path: ["url"], message: "url is empty" });
  })
  .describe("How this service's data is backed up, verified and pruned.");

export type BackupConfigInput = z.input<typeof backupSchema>;
export type BackupConfigParsed = z.output<typeof backupSchema>;
