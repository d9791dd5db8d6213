/**
 * Debian's sshd on loopback ports for the multi-host Docker suites: one host key, one client key,
 * root login by key only, a known_hosts trusting every port. Each "host" reaches this machine's
 * Docker Engine through SSH (`docker system dial-stdio`), as a remote engine would be reached.
 *
 * Each host gets its own empty HOME: Debian's bash sources ~/.bashrc for every command sshd runs,
 * and this machine's root dotfiles are not part of the simulated host. On the CI image root's
 * .bashrc runs `pyenv init` (1.3–2.5 s per command under load); the Docker driver opens one SSH
 * session per engine API request, so a deploy took over 60 s and 5 s check budgets ran out.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitFor } from "./ports.js";

const exec = promisify(execFile);

export interface SshHosts {
  ports: number[];
  clientKey: string;
  knownHosts: string;
  /** The hosts' public key as known_hosts holds it: "ssh-ed25519 AAAA…". */
  hostPublicKey: string;
  stop(): Promise<void>;
}

function sshAnswers(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(p, "127.0.0.1");
    s.once("data", (d) => {
      s.destroy();
      resolve(d.toString().startsWith("SSH-"));
    });
    s.on("error", () => resolve(false));
  });
}

export interface SshHostOptions {
  /** Extra sshd_config lines for host i (not SetEnv: sshd honours only its first SetEnv line). */
  config?: (i: number) => string[];
  /** Environment of host i's sessions (e.g. a PATH that gives one host programs the other lacks). */
  env?: (i: number) => Record<string, string>;
}

/** The one SetEnv line of a host: its own HOME, then `env`. Values are quoted for sshd_config. */
function setEnvLine(home: string, env: Record<string, string>): string {
  const vars = Object.entries({ HOME: home, ...env }).map(([k, v]) => {
    if (/["\\\n]/.test(v)) throw new Error(`sshd SetEnv cannot hold ${k}=${v}`);
    return `"${k}=${v}"`;
  });
  return `SetEnv ${vars.join(" ")}`;
}

/** Start `count` sshd daemons in `dir` (keys, configs and each host's HOME are written there). */
export async function startSshHosts(
  dir: string,
  count: number,
  opts: SshHostOptions = {},
): Promise<SshHosts> {
  const hostKey = join(dir, "host_key");
  const clientKey = join(dir, "client_key");
  await exec("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  await exec("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", clientKey]);
  writeFileSync(join(dir, "authorized_keys"), readFileSync(`${clientKey}.pub`));
  const pub = readFileSync(`${hostKey}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  mkdirSync("/run/sshd", { recursive: true });
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const config = join(dir, `sshd_config_${i}`);
    const home = join(dir, `home_${i}`);
    mkdirSync(home, { recursive: true });
    const extra = opts.config?.(i) ?? [];
    if (extra.some((l) => /^\s*SetEnv\b/i.test(l))) throw new Error("give host variables as env, not SetEnv");
    writeFileSync(
      config,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, `sshd_${i}.pid`)}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        setEnvLine(home, opts.env?.(i) ?? {}),
        ...extra,
        "",
      ].join("\n"),
    );
    children.push(spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: "ignore" }));
    ports.push(port);
  }
  const knownHosts = join(dir, "known_hosts");
  writeFileSync(knownHosts, ports.map((p) => `[127.0.0.1]:${p} ${pub}\n`).join(""));
  for (const p of ports) await waitFor(() => sshAnswers(p), { what: `sshd on ${p} to answer` });
  return {
    ports,
    clientKey,
    knownHosts,
    hostPublicKey: pub,
    async stop() {
      await Promise.all(
        children.map((c) => {
          if (c.exitCode !== null) return undefined;
          const exited = new Promise((r) => c.once("exit", r));
          c.kill("SIGTERM");
          return exited;
        }),
      );
    },
  };
}
