/**
 * A real PostgreSQL server for tests: initdb into a temp dir and start it on a loopback
 * port. Runs as the `postgres` system user when we are root (postgres refuses root).
 */
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";

export interface PgServer {
  url: string;
  port: number;
  dir: string;
  binDir: string;
  /** Stops the server (pg_ctl stop -m immediate) and keeps its data: an outage. */
  pause(): void;
  /** Starts it again on the same port after pause(). */
  resume(): void;
  stop(): Promise<void>;
}

export function pgBinDir(): string {
  for (const v of ["17", "16", "15", "14", "13"]) {
    const d = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(join(d, "initdb"))) return d;
  }
  throw new Error("PostgreSQL server binaries not found (apt-get install postgresql)");
}

function runAs(user: { uid: number; gid: number } | undefined, cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...(user ?? {}), timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

function pgUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const r = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error("running as root needs the postgres system user");
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export async function startPostgres(): Promise<PgServer> {
  const bin = pgBinDir();
  const user = pgUser();
  const dir = mkdtempSync(join(tmpdir(), "slipway-pg-"));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, "data");
  runAs(user, join(bin, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const start = () =>
    runAs(user, join(bin, "pg_ctl"), [
      "-D",
      data,
      "-l",
      join(dir, "log"),
      "-w",
      "-t",
      "60",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
      "start",
    ]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    binDir: bin,
    pause: () => void runAs(user, join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]),
    resume: () => void start(),
    async stop() {
      try {
        runAs(user, join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
