/**
 * Debian's sshd on loopback ports for the multi-host Docker suites: one host key, one client key,
 * root login by key only, a known_hosts trusting every port. Each "host" reaches this machine's
 * Docker Engine through SSH (`docker system dial-stdio`), as a remote engine would be reached.
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

/**
 * Start `count` sshd daemons in `dir` (keys and configs are written there). `config(i)`: extra
 * sshd_config lines for host i (e.g. `SetEnv PATH=…` to give one host programs the other lacks).
 */
export async function startSshHosts(
  dir: string,
  count: number,
  opts: { config?: (i: number) => string[] } = {},
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
        ...(opts.config?.(i) ?? []),
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
