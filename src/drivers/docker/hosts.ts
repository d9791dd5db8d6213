/**
 * The engines a DockerDriver talks to: the local socket, or remote engines over SSH
 * (`user@host[:port]`, `docker system dial-stdio` on the remote side, as the Docker CLI does).
 * Host keys are verified against a known_hosts file (plain or hashed entries).
 */
import { createHmac } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import type { ConnectConfig } from "ssh2";
import { DriverError } from "../../errors.js";

export interface SshOptions {
  /** Private key file (default: $SSH_AUTH_SOCK agent, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa). */
  privateKeyPath?: string;
  /** known_hosts file used to verify host keys (default ~/.ssh/known_hosts). */
  knownHostsPath?: string;
}

export interface EngineHost {
  /** "local" or the user@host:port string from the spec. */
  key: string;
  docker: Docker;
  remote: boolean;
  /** The machine's address (remote hosts) or 127.0.0.1. */
  address: string;
  /** Address published ports bind to on this machine (default: the driver's, 127.0.0.1). */
  publish?: string;
  /** Remote hosts: the SSH settings of the engine connection (pre-flight commands reuse them). */
  ssh?: ConnectConfig;
}

export interface ParsedHost {
  user: string;
  host: string;
  port: number;
}

export function parseHost(spec: string): ParsedHost {
  const m = /^(?:ssh:\/\/)?(?:([^@\s]+)@)?(\[[^\]]+\]|[^:\s]+)(?::(\d+))?$/.exec(spec.trim());
  if (!m) throw new DriverError("docker", `host "${spec}" is not user@host[:port]`);
  const host = (m[2] as string).replace(/^\[|\]$/g, "");
  return { user: m[1] ?? "root", host, port: m[3] ? Number(m[3]) : 22 };
}

/**
 * Does the known_hosts file trust this key for host:port? Supports plain and hashed (|1|) names.
 * A key on a `@revoked` line is never trusted, whatever that line's host patterns and whatever
 * other line lists it (as OpenSSH does); a `@cert-authority` line signs certificates and does not
 * vouch for a host presenting the CA's own key.
 */
export function knownHostTrusts(knownHosts: string, host: string, port: number, keyBase64: string): boolean {
  const name = port === 22 ? host : `[${host}]:${port}`;
  let trusted = false;
  for (const raw of knownHosts.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith("@") ? fields[0] : undefined;
    const [hosts, , key] = marker ? fields.slice(1) : fields;
    if (!hosts || !key || key !== keyBase64) continue;
    if (marker === "@revoked") return false;
    if (marker) continue;
    if (hosts.split(",").some((h) => hostMatches(h, name))) trusted = true;
  }
  return trusted;
}

function hostMatches(h: string, name: string): boolean {
  if (!h.startsWith("|1|")) return h === name;
  const [, , salt, hash] = h.split("|");
  if (!salt || !hash) return false;
  return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
}

function defaultKey(): Buffer | undefined {
  for (const f of ["id_ed25519", "id_ecdsa", "id_rsa"]) {
    const p = join(homedir(), ".ssh", f);
    if (existsSync(p)) return readFileSync(p);
  }
  return undefined;
}

export function localHost(socketPath: string | undefined): EngineHost {
  return {
    key: "local",
    docker: new Docker({ socketPath: socketPath ?? "/var/run/docker.sock" }),
    remote: false,
    address: "127.0.0.1",
  };
}

/**
 * ssh2 connection settings for a host: the key (or agent) and the known_hosts verification the
 * engine connection uses; pre-flight commands on the host connect with the same ones.
 */
export function sshConnectConfig(spec: string, opts: SshOptions = {}): ConnectConfig {
  const { user, host, port } = parseHost(spec);
  const knownHostsPath = opts.knownHostsPath ?? join(homedir(), ".ssh", "known_hosts");
  const privateKey = opts.privateKeyPath ? readFileSync(opts.privateKeyPath) : undefined;
  const agent = privateKey ? undefined : process.env.SSH_AUTH_SOCK;
  const key = privateKey ?? (agent ? undefined : defaultKey());
  if (!key && !agent)
    throw new DriverError(
      "docker",
      `no SSH key for ${spec}: set SSH_AUTH_SOCK or create ~/.ssh/id_ed25519 (or give ssh.privateKeyPath)`,
    );
  return {
    host,
    port,
    username: user,
    ...(key ? { privateKey: key } : { agent }),
    readyTimeout: 15_000,
    hostVerifier: (hostKey: Buffer) => {
      const known = existsSync(knownHostsPath) ? readFileSync(knownHostsPath, "utf8") : "";
      return knownHostTrusts(known, host, port, hostKey.toString("base64"));
    },
  };
}

export function sshHost(spec: string, opts: SshOptions = {}, publish?: string): EngineHost {
  const ssh = sshConnectConfig(spec, opts);
  const { host, port, username, ...sshOptions } = ssh;
  const docker = new Docker({
    protocol: "ssh",
    host,
    port,
    username,
    sshOptions,
  } as Docker.DockerOptions);
  return { key: spec, docker, remote: true, address: host as string, ssh, ...(publish ? { publish } : {}) };
}

/** What went wrong reaching a host over SSH, said for a person (undefined: some other failure). */
export function sshProblem(msg: string): string | undefined {
  if (/verification failed/i.test(msg))
    return "its SSH host key is not in known_hosts; verify it and add it (ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts)";
  if (/All configured authentication methods failed/i.test(msg))
    return "SSH authentication failed (key not accepted)";
  if (/ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|Timed out/i.test(msg)) return `cannot connect (${msg})`;
  return undefined;
}

/** Turn SSH/socket failures into messages that say which host and what to do. */
export function engineError(h: EngineHost, e: unknown): DriverError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/ENOENT|ECONNREFUSED/.test(msg) && !h.remote)
    return new DriverError(
      "docker",
      `cannot reach the Docker Engine on this host (${msg}); is dockerd running?`,
    );
  return new DriverError("docker", `host ${h.key}: ${sshProblem(msg) ?? msg}`);
}
