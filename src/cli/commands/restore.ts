/** `slipway restore ENV BACKUP_ID [--yes]`: asks at a terminal; protected environments need --yes. */
import { createInterface } from "node:readline/promises";
import { Refused } from "../../core.js";
import type { BackupRecord } from "../../index.js";
import type { Cli } from "../runtime.js";
import { green } from "../render.js";

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export function register(cli: Cli): void {
  cli.program
    .command("restore <env> <backupId>")
    .description("replace the live data of a service with a backup (checksum checked first)")
    .option("-y, --yes", "do not ask; required for protected environments and without a terminal")
    .option("--force", "restore a backup marked corrupt (its checksum must still match)")
    .action(
      cli.action(async (env: string, id: string, o: { yes?: boolean; force?: boolean }) => {
        const res = cli.resolve(env, "restore");
        let yes = !!o.yes;
        const interactive = process.stdin.isTTY && process.stderr.isTTY && !cli.opts.json;
        if (!yes && interactive && !res.spec.protect?.confirm) {
          // Show what would be restored (an unknown id ends here with exit 2), then ask.
          const list = (await cli.op("backups", res, {})) as { backups: BackupRecord[] };
          const rec = list.backups.find((b) => b.id === id);
          if (rec) {
            yes = await ask(
              `? restore ${rec.service} in ${env} from ${id} (taken ${rec.startedAt}), replacing its live data? [y/N] `,
            );
            if (!yes) throw new Refused("restore cancelled: nothing was changed");
          }
        }
        const r = (await cli.op("restore", res, { id, yes, force: o.force })) as { backup: BackupRecord };
        cli.finish(r, (out) =>
          out.stdout(
            green(out, `✔ ${r.backup.service} restored from ${r.backup.id} (taken ${r.backup.startedAt})`),
          ),
        );
      }),
    );
}
