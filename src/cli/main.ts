/** The `slipway` command line. Exits happen here and only here (DESIGN §7). */
import { Command } from "commander";
import { Cli } from "./runtime.js";
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
type Register = (cli: Cli) => void;
/** Every command module, in the order `slipway --help` lists them, loaded on demand. */
const MODULES: [string[], () => Promise<{ register: Register }>][] = [
  [["init"], () => import("./commands/init.js")],
  [["validate"], () => import("./commands/validate.js")],
  [["schema"], () => import("./commands/schema.js")],
  [["docs"], () => import("./commands/docs.js")],
  [["check"], () => import("./commands/check.js")],
  [["plan"], () => import("./commands/plan.js")],
  [["render"], () => import("./commands/render.js")],
  [["deploy"], () => import("./commands/deploy.js")],
  [["rollback"], () => import("./commands/rollback.js")],
  [["restart"], () => import("./commands/restart.js")],
  [["scale"], () => import("./commands/scale.js")],
  [["secrets"], () => import("./commands/secrets.js")],
  [["status", "health"], () => import("./commands/status.js")],
  [["history"], () => import("./commands/history.js")],
  [["logs"], () => import("./commands/logs.js")],
  [["exec"], () => import("./commands/exec.js")],
  [["stats"], () => import("./commands/stats.js")],
  [["smoke"], () => import("./commands/smoke.js")],
  [["stop", "destroy"], () => import("./commands/stop.js")],
  [["lock"], () => import("./commands/lock.js")],
  [["prune"], () => import("./commands/prune.js")],
  [["serve"], () => import("./commands/serve.js")],
  [["proxy"], () => import("./commands/proxy.js")],
  [["alerts"], () => import("./commands/alerts.js")],
  [["silence"], () => import("./commands/silence.js")],
  [["backup", "backups"], () => import("./commands/backup.js")],
  [["restore"], () => import("./commands/restore.js")],
  [["migrate"], () => import("./commands/migrate.js")],
  [["rules"], () => import("./commands/rules.js")],
  [["run", "runs"], () => import("./commands/run.js")],
  [["users", "tokens"], () => import("./commands/users.js")],
];

/** Root options that take a value: what follows them is not the command's name. */
const VALUE_OPTIONS = new Set(["-f", "--file", "--server", "--token", "--home"]);

/** The command named on the command line (the first word that is not a root option), if any. */
function commandName(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith("-")) return a;
  }
  return undefined;
}

// Start-up time is module loading: a command loads its own module only. Help, an unknown name
// (commander suggests the closest) or no command at all load every module.
const named = commandName(process.argv.slice(2));
const own = MODULES.find(([names]) => named !== undefined && names.includes(named));
for (const [, load] of own ? [own] : MODULES) (await load()).register(cli);
if (own && !program.commands.some((c) => c.name() === named || c.aliases().includes(named as string)))
  for (const [, load] of MODULES.filter((m) => m !== own)) (await load()).register(cli);

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
