/** `slipway backup ENV [SVC]`, `slipway backup verify ENV ID`, `slipway backups ENV`, `slipway backups prune ENV`. */
import type { Cli } from "../runtime.js";
import type { BackupRecord } from "../../index.js";
import { formatBytes } from "../../core.js";
import { bold, dim, green, red, yellow, type Out } from "../render.js";

function statusText(out: Out, s: BackupRecord["status"], width = 0): string {
  const text = s.padEnd(width);
  if (s === "verified" || s === "ok") return green(out, text);
  if (s === "running") return yellow(out, text);
  return red(out, text);
}

/** "2025-06-30T02:00:00.123Z" → "2025-06-30 02:00:00Z" */
const when = (iso: string) => iso.replace("T", " ").replace(/\.\d+Z$/, "Z");

export function renderBackups(out: Out, env: string, list: BackupRecord[]): void {
  if (!list.length) {
    out.stdout(`no backups in ${env} yet (slipway backup ${env} takes one)`);
    return;
  }
  const idW = Math.max(2, ...list.map((r) => r.id.length));
  const svcW = Math.max(7, ...list.map((r) => r.service.length));
  out.stdout(
    dim(
      out,
      `${"ID".padEnd(idW)}  ${"SERVICE".padEnd(svcW)}  REV   ${"TIME".padEnd(21)}  ${"SIZE".padStart(10)}  STATUS`,
    ),
  );
  for (const r of list) {
    out.stdout(
      `${r.id.padEnd(idW)}  ${r.service.padEnd(svcW)}  ${(r.revision !== undefined ? String(r.revision) : "-").padEnd(4)}  ${when(r.startedAt).padEnd(21)}  ${formatBytes(r.size).padStart(10)}  ${statusText(out, r.status, r.error ? 10 : 0)}${r.error ? dim(out, `  ${r.error.split("\n")[0].slice(0, 100)}`) : ""}`,
    );
  }
}

export function register(cli: Cli): void {
  const backup = cli.program
    .command("backup")
    .argument("<env>", "environment")
    .argument("[service]", "only this service (default: every service with a backup block)")
    .description("take a backup now of the services with a backup block (`backup verify ENV ID` checks one)")
    .action(
      cli.action(async (env: string, service: string | undefined) => {
        const r = (await cli.op("backup", cli.resolve(env, "backup"), { service })) as {
          backups: BackupRecord[];
        };
        cli.finish(r, (out) => {
          for (const b of r.backups)
            out.stdout(
              green(out, `✔ ${b.service}: ${b.id}`) +
                `  ${formatBytes(b.size)}  ${b.status}${b.sha256 ? dim(out, `  sha256 ${b.sha256.slice(0, 16)}…`) : ""}`,
            );
        });
      }),
    );
  backup
    .command("verify <env> <id>")
    .description("restore a backup into a scratch database or directory and compare it (exit 1 when corrupt)")
    .action(
      cli.action(async (env: string, id: string) => {
        const r = (await cli.op("backup-verify", cli.resolve(env, "backup"), { id })) as {
          backup: BackupRecord;
        };
        cli.finish(r, (out) =>
          out.stdout(green(out, `✔ ${r.backup.id} verified`) + `  ${r.backup.verifyDetail ?? ""}`),
        );
      }),
    );

  const backups = cli.program
    .command("backups")
    .argument("<env>", "environment")
    .description("list the backups of an environment (`backups prune ENV` applies the retention)")
    .option("--service <name>", "only this service")
    .action(
      cli.action(async (env: string, o: { service?: string }) => {
        const r = (await cli.op("backups", cli.resolve(env, "backups"), { service: o.service })) as {
          backups: BackupRecord[];
        };
        cli.finish(r, (out) => renderBackups(out, env, r.backups));
      }),
    );
  backups
    .command("prune <env>")
    .description("delete the backups each service's retention (keepLast, maxAge) no longer keeps")
    .action(
      cli.action(async (env: string) => {
        const r = (await cli.op("backups-prune", cli.resolve(env, "backups"), {})) as {
          removed: { service: string; ids: string[] }[];
        };
        cli.finish(r, (out) => {
          if (!r.removed.length) out.stdout("no service has a backup block");
          for (const x of r.removed)
            out.stdout(
              x.ids.length
                ? `${bold(out, x.service)}: removed ${x.ids.length}: ${x.ids.join(", ")}`
                : `${bold(out, x.service)}: nothing to prune`,
            );
        });
      }),
    );
}
