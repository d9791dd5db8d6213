/**
 * `slipway serve --install`: the daemon under a supervisor. Without one, a daemon that dies stays
 * down and nothing watches or heals (instances and the proxy keep running). A systemd unit is
 * written; the equivalents for OpenRC, launchd and supervisord are printed.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export interface UnitInput {
  home: string;
  host: string;
  port: number;
  /** The node binary and the slipway script it runs. */
  node: string;
  script: string;
  /** root: a system unit (multi-user.target); otherwise a user unit (default.target). */
  system: boolean;
  /** `--proxy-workers`: the worker processes of the proxy the daemon starts. */
  proxyWorkers?: string;
}

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, "\\$1")}"`);

function argv(u: UnitInput): string[] {
  const workers = u.proxyWorkers ? ["--proxy-workers", u.proxyWorkers] : [];
  return [u.node, u.script, "serve", "--host", u.host, "--port", String(u.port), ...workers];
}

/** The systemd unit text: `slipway serve` for this SLIPWAY_HOME, restarted whenever it stops. */
export function systemdUnit(u: UnitInput): string {
  return `[Unit]
Description=Slipway daemon (SLIPWAY_HOME=${u.home})
After=network-online.target docker.service
Wants=network-online.target

[Service]
Type=simple
Environment=${quote(`SLIPWAY_HOME=${u.home}`)}
# Variables the daemon needs and that are secret (SLIPWAY_DATABASE_URL): put them in this file, mode 0600.
EnvironmentFile=-${quote(join(u.home, "daemon.env"))}
ExecStart=${argv(u).map(quote).join(" ")}
Restart=always
RestartSec=2
# Only the daemon restarts: the proxy and the process target's instances live on (zero downtime).
KillMode=process
UMask=0077

[Install]
WantedBy=${u.system ? "multi-user.target" : "default.target"}
`;
}

/** Where `--install` writes the unit: /etc/systemd/system for root, the user's systemd dir otherwise. */
export function unitPath(system: boolean, env: NodeJS.ProcessEnv = process.env): string {
  if (system) return "/etc/systemd/system/slipway.service";
  const config = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(config, "systemd", "user", "slipway.service");
}

/** Writes the unit atomically (0644: systemd units are not secret; the token stays in SLIPWAY_HOME). */
export function installUnit(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, text, { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
}

/** How to enable the written unit. */
export function enableCommands(system: boolean): string[] {
  const ctl = system ? "systemctl" : "systemctl --user";
  return [
    `${ctl} daemon-reload`,
    `${ctl} enable --now slipway.service`,
    ...(system ? [] : ['loginctl enable-linger "$USER"   # keep it running after you log out']),
  ];
}

/** The same supervision for other init systems, as text to copy. */
export function otherInitSystems(u: UnitInput): string {
  const cmd = argv(u);
  return `OpenRC (/etc/init.d/slipway, then: rc-update add slipway default):
  #!/sbin/openrc-run
  supervisor=supervise-daemon
  command=${quote(cmd[0])}
  command_args="${cmd.slice(1).join(" ")}"
  export SLIPWAY_HOME=${quote(u.home)}
  respawn_delay=2
  respawn_max=0

launchd (~/Library/LaunchAgents/dev.slipway.daemon.plist, then: launchctl load -w FILE):
  <plist version="1.0"><dict>
    <key>Label</key><string>dev.slipway.daemon</string>
    <key>ProgramArguments</key><array>${cmd.map((a) => `<string>${a}</string>`).join("")}</array>
    <key>EnvironmentVariables</key><dict><key>SLIPWAY_HOME</key><string>${u.home}</string></dict>
    <key>KeepAlive</key><true/><key>RunAtLoad</key><true/>
  </dict></plist>

supervisord (/etc/supervisor/conf.d/slipway.conf, then: supervisorctl update):
  [program:slipway]
  command=${cmd.map(quote).join(" ")}
  environment=SLIPWAY_HOME="${u.home}"
  autorestart=true
  stopasgroup=false
  killasgroup=false
`;
}
