/** The data operations (backups, restores, migrations); a tiny module so the CLI can list them cheaply. */
export const DATA_OPS = [
  "backup",
  "backups",
  "backup-verify",
  "backups-prune",
  "restore",
  "migrate",
] as const;
