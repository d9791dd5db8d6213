/**
 * A real RFC 8555 CA on loopback: Caddy's `acme_server` (Debian's caddy package) with its own
 * local root, in a temp directory. Its HTTP-01 validation fetches port 80 of each name, so a
 * test that uses it binds port 80 and points its names at 127.0.0.1 with `hostsEntry`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, waitFor } from "./ports.js";

export interface CaddyAcme {
  directory: string;
  /** Caddy's local root certificate (PEM file): trust it with NODE_EXTRA_CA_CERTS or `ca:`. */
  rootFile: string;
  stop(): Promise<void>;
}

export async function startCaddyAcme(dir: string): Promise<CaddyAcme> {
  const [https, http] = [await freePort(), await freePort()];
  const data = join(dir, "caddy-data");
  writeFileSync(
    join(dir, "Caddyfile"),
    `{
\tlocal_certs
\tskip_install_trust
\tadmin off
\tstorage file_system ${data}
\thttp_port ${http}
\thttps_port ${https}
}
localhost:${https} {
\ttls internal
\tacme_server
}
`,
  );
  const child: ChildProcess = spawn(
    "caddy",
    ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"],
    {
      env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "xdg"), XDG_CONFIG_HOME: join(dir, "xdg") },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let log = "";
  child.stderr?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const rootFile = join(data, "pki", "authorities", "local", "root.crt");
  const directory = `https://localhost:${https}/acme/local/directory`;
  await waitFor(() => existsSync(rootFile) && child.exitCode === null, {
    what: `caddy to start:\n${log}`,
    timeoutMs: 20_000,
  });
  return {
    directory,
    rootFile,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/**
 * Make `name` resolve to 127.0.0.1 for every process on the machine (Caddy's validation too) by a
 * line in /etc/hosts, tagged so the returned function removes exactly that line. The file is
 * rewritten in place (same inode): in a container it is often a bind mount.
 */
export function hostsEntry(name: string): () => void {
  const tag = `# slipway-test ${process.pid} ${name}`;
  const before = readFileSync("/etc/hosts", "utf8");
  writeFileSync("/etc/hosts", `${before.endsWith("\n") ? before : before + "\n"}127.0.0.1 ${name} ${tag}\n`);
  return () => {
    const now = readFileSync("/etc/hosts", "utf8");
    writeFileSync(
      "/etc/hosts",
      now
        .split("\n")
        .filter((l) => !l.endsWith(tag))
        .join("\n"),
    );
  };
}
