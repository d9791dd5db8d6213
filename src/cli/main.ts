/** The `slipway` command line. Exits happen here and only here (DESIGN §7). */
import { Command } from "commander";
import { Cli } from "./runtime.js";
import { register as validate } from "./commands/validate.js";
import { register as schema } from "./commands/schema.js";
import { register as plan } from "./commands/plan.js";
import { register as deploy } from "./commands/deploy.js";
import { register as rollback } from "./commands/rollback.js";
import { register as restart } from "./commands/restart.js";
import { register as status } from "./commands/status.js";
import { register as history } from "./commands/history.js";
import { register as logs } from "./commands/logs.js";
import { register as stop } from "./commands/stop.js";
import { register as lock } from "./commands/lock.js";
import { register as serve } from "./commands/serve.js";
import { register as docs } from "./commands/docs.js";
import { register as check } from "./commands/check.js";
import { register as proxy } from "./commands/proxy.js";
import { register as alerts } from "./commands/alerts.js";
import { register as silence } from "./commands/silence.js";
import { register as init } from "./commands/init.js";
import { register as prune } from "./commands/prune.js";
import { register as backup } from "./commands/backup.js";
import { register as restore } from "./commands/restore.js";
import { register as migrate } from "./commands/migrate.js";
import { register as exec } from "./commands/exec.js";
import { register as stats } from "./commands/stats.js";
import { register as smoke } from "./commands/smoke.js";
import { register as render } from "./commands/render.js";
import { register as rules } from "./commands/rules.js";
import { register as run } from "./commands/run.js";
import { register as users } from "./commands/users.js";
import { slipwayVersion } from "./version.js";

const program = new Command("slipway")
  .description(
    "Executable, safe deployment runbooks: one slipway.yaml, health-gated rollouts, automatic rollback.",
  )
  .option("-f, --file <path>", "the spec file", process.env.SLIPWAY_FILE ?? "slipway.yaml")
  .option("--json", "print exactly one JSON document on stdout (progress on stderr)")
  .option("--server <url>", "the daemon's URL (default: the local daemon, started on demand)")
  .option(
    "--token <token>",
    "an API token for --server (or the local daemon's TCP listener); default $SLIPWAY_TOKEN",
  )
  .option("--in-process", "run the engine in this process, without a daemon")
  .option("--home <dir>", "state directory (default: $SLIPWAY_HOME or ~/.slipway)")
  .option("--no-color", "no colours (also NO_COLOR; FORCE_COLOR=1 forces them)")
  .addHelpText("after", "\nslipway --version (as the first argument) prints the version of slipway.")
  .showHelpAfterError("(run `slipway --help` for the commands)")
  .exitOverride();

// Only as the first argument: after a command, `--version V` is that command's release label
// (`deploy ENV --version V`), and commander would hand a root option the whole command line.
if (process.argv[2] === "--version" || process.argv[2] === "-V") {
  process.stdout.write(slipwayVersion() + "\n");
  process.exit(0);
}

const cli = new Cli(program);
const commands = [
  init,
  validate,
  schema,
  docs,
  check,
  plan,
  render,
  deploy,
  rollback,
  restart,
  status,
  history,
  logs,
  exec,
  stats,
  smoke,
  stop,
  lock,
  prune,
  serve,
  proxy,
  alerts,
  silence,
  backup,
  restore,
  migrate,
  rules,
  run,
  users,
];
for (const reg of commands) reg(cli);

program.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as { code?: string; exitCode?: number; message?: string };
  if (
    err.code === "commander.helpDisplayed" ||
    err.code === "commander.version" ||
    err.code === "commander.help"
  )
    process.exit(0);
  if (err.code?.startsWith("commander.")) process.exit(2);
  cli.fail(e);
});
