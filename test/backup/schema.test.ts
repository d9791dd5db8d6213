import { describe, expect, test } from "vitest";
import type { BackupConfig } from "../../src/backup/index.js";
import { backupSchema } from "../../src/spec/schema-backup.js";

const issues = (v: unknown) =>
  (backupSchema.safeParse(v).error?.issues ?? []).map((i) => `${i.path.join(".")}: ${i.message}`);

describe("backup: block schema", () => {
  test("the DESIGN §8 example parses, durations in ms", () => {
    const b = backupSchema.parse({
      type: "postgres",
      url: "postgres://app@db/app",
      before: "deploy",
      schedule: "0 2 * * *",
      retention: { keepLast: 14, maxAge: "30d" },
    });
    expect(b.retention).toEqual({ keepLast: 14, maxAge: 30 * 24 * 3600 * 1000 });
    // The resolved block is what the engine hands to BackupManager.backup() (compile-time check).
    const config: BackupConfig = b;
    expect(config.type).toBe("postgres");
  });

  test("retention defaults to 30 days", () => {
    expect(backupSchema.parse({ type: "files", paths: ["data"] }).retention).toEqual({
      maxAge: 2_592_000_000,
    });
  });

  test("each type names the field it needs", () => {
    expect(issues({ type: "postgres" })).toEqual(['url: a postgres backup needs "url" (the connection URL)']);
    expect(issues({ type: "files" })).toEqual([
      'paths: a files backup needs "paths" (the files and directories to archive)',
    ]);
    expect(issues({ type: "volume", volumes: [] })).toEqual([
      'volumes: a volume backup needs "volumes" (the Docker volume names)',
    ]);
  });

  test("bad cron, unknown keys and unknown types are reported on their field", () => {
    expect(issues({ type: "redis", url: "redis://x", schedule: "0 99 * * *" })).toEqual([
      'schedule: invalid cron expression "0 99 * * *": CronPattern: Invalid value for hour: 99',
    ]);
    expect(issues({ type: "redis", url: "redis://x", keep: 3 })).toEqual([': Unrecognized key: "keep"']);
    expect(issues({ type: "mongo", url: "x" })[0]).toMatch(/^type: Invalid option/);
    expect(issues({ type: "redis", url: "redis://x", verify: "not cron" })[0]).toMatch(/^verify: /);
  });
});
