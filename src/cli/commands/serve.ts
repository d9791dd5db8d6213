import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import type { Cli } from "../runtime.js";
import { parseIntArg } from "../runtime.js";
import { slipwayVersion } from "../version.js";
import { workersArg } from "./proxy.js";
import { UsageError, parseDuration } from "../../core.js";

interface ServeOptions {
  host: string;
  port: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureHttp?: boolean;
  allowedHost: string[];
  sessionTtl: string;
  install?: boolean;
  print?: boolean;
  unitFile?: string;
  proxyWorkers?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(cli: Cli): void {
  cli.program
    .command("serve")
    .description(
      "run the Slipway daemon (API, deploy execution, recovery) in the foreground; the local CLI talks to it over $SLIPWAY_HOME/daemon.sock",
    )
    .option(
      "--host <host>",
      "TCP address for the dashboard and remote API (loopback unless told otherwise)",
      "127.0.0.1",
    )
    .option("--port <port>", "TCP port (0: any free port)", "7437")
    .option("--tls-cert <file>", "serve HTTPS with this certificate (PEM; required off loopback)")
    .option("--tls-key <file>", "the certificate's private key (PEM)")
    .option("--insecure-http", "allow plain HTTP on a non-loopback --host (prints a warning)")
    .option("--allowed-host <name>", "a Host header name the listener answers to (repeatable)", collect, [])
    .option(
      "--session-ttl <duration>",
      "how long a dashboard login lasts before its session expires (e.g. 30m, 8h; 1s to 30d)",
      "12h",
    )
    .option(
      "--proxy-workers <n>",
      "worker processes of the proxy this daemon starts (a number, or auto = the CPU count; sets SLIPWAY_PROXY_WORKERS); default 1",
    )
    .option("--install", "write a systemd unit that runs this daemon and restarts it whenever it stops")
    .option("--print", "with --install: print the unit instead of writing it")
    .option(
      "--unit-file <path>",
      "with --install: where to write the unit (default: systemd's unit directory)",
    )
    .action(
      cli.action(async (o: ServeOptions) => {
        if (o.proxyWorkers !== undefined) {
          // Every proxy this daemon starts inherits it (the proxy is machine-wide, not per environment).
          o.proxyWorkers = workersArg(o.proxyWorkers, "--proxy-workers");
          process.env.SLIPWAY_PROXY_WORKERS = o.proxyWorkers;
        }
        if (o.install || o.print) return install(cli, o);
        const sessionTtlMs = sessionTtlArg(o.sessionTtl);
        const { createRuntime, fileLogger } = await import("../../index.js");
        const { startDaemon } = await import("../../server/daemon.js");
        const home = cli.home;
        const logger = fileLogger(process.stderr);
        const engine = await createRuntime({ home, logger });
        const d = await startDaemon({
          home,
          host: o.host,
          port: parseIntArg("--port", o.port) ?? 7437,
          engine,
          logger,
          version: slipwayVersion(),
          sessionTtlMs,
          tcp: {
            tls: o.tlsCert || o.tlsKey ? { cert: o.tlsCert ?? "", key: o.tlsKey ?? "" } : undefined,
            insecureHttp: o.insecureHttp,
            allowedHosts: o.allowedHost,
          },
        }).catch(async (e: unknown) => {
          await engine.close();
          throw e;
        });
        const shutdown = async () => {
          logger.info("shutting down (instances and the proxy keep running)");
          await d.close();
          process.exit(0);
        };
        process.on("SIGTERM", () => void shutdown());
        process.on("SIGINT", () => void shutdown());
      }),
    );
}

/** --session-ttl: a duration from 1 minute to 30 days (a test may shorten it to seconds). */
function sessionTtlArg(v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms < 1000 || ms > 30 * 86_400_000)
    throw new UsageError(`--session-ttl "${v}" is not a duration from 1s to 30d (e.g. 30m, 12h, 7d)`);
  return ms;
}

async function install(cli: Cli, o: ServeOptions): Promise<void> {
  const m = await import("../../server/install.js");
  const system = process.getuid?.() === 0;
  const input = {
    home: cli.home,
    host: o.host,
    // A supervised daemon keeps one address: port 0 would change it at every restart.
    port: parseIntArg("--port", o.port) || 7437,
    node: process.execPath,
    script: realpathSync(process.argv[1]),
    system,
    proxyWorkers: o.proxyWorkers,
  };
  const unit = m.systemdUnit(input);
  const others = m.otherInitSystems(input);
  if (o.print) {
    cli.out.stderr(`# the same for other init systems:\n${others.replace(/^/gm, "# ")}`);
    return cli.finish({ unit, written: false }, (out) => out.stdout(unit.trimEnd()));
  }
  const path = o.unitFile ? resolve(o.unitFile) : m.unitPath(system);
  m.installUnit(path, unit);
  const enable = m.enableCommands(system);
  cli.finish({ path, unit, written: true, enable }, (out) => {
    out.stdout(`wrote ${path} (slipway serve for SLIPWAY_HOME=${input.home}, Restart=always)`);
    out.stdout(`enable it with:\n${enable.map((c) => `  ${c}`).join("\n")}`);
    out.stdout(`\nthe same for other init systems:\n${others}`);
  });
}
