/**
 * A real MariaDB server for tests: mariadb-install-db into a temp dir, mariadbd on a loopback
 * port with its own socket. Runs as the `mysql` system user when we are root.
 * The root account gets a password, so tests exercise the password path of the clients.
 */
import { spawn, spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./ports.js";

export interface MariaDbServer {
  /** mysql://root:PASSWORD@127.0.0.1:PORT/ */
  url: string;
  port: number;
  password: string;
  dir: string;
  socket: string;
  /** Run SQL through the mariadb client as root (for test setup); returns stdout (tab separated). */
  sql(statement: string, database?: string): string;
  stop(): Promise<void>;
}

function mysqlUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const u = spawnSync("id", ["-u", "mysql"], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", "mysql"], { encoding: "utf8" });
  if (u.status !== 0) throw new Error("running as root needs the mysql system user");
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export async function startMariaDb(): Promise<MariaDbServer> {
  const user = mysqlUser();
  const dir = mkdtempSync(join(tmpdir(), "slipway-mariadb-"));
  const data = join(dir, "data");
  const socket = join(dir, "mysqld.sock");
  if (user) chownSync(dir, user.uid, user.gid);
  const install = spawnSync(
    "mariadb-install-db",
    [
      "--no-defaults",
      `--datadir=${data}`,
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
      ...(user ? ["--user=mysql"] : []),
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  if (install.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed: ${install.stderr || install.stdout}`);
  }
  const port = await freePort();
  const child = spawn(
    "mariadbd",
    [
      "--no-defaults",
      `--datadir=${data}`,
      `--socket=${socket}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--pid-file=${join(dir, "mysqld.pid")}`,
      `--log-error=${join(dir, "error.log")}`,
      "--skip-name-resolve",
      "--innodb-buffer-pool-size=32M",
      "--innodb-log-file-size=16M",
      "--innodb-flush-log-at-trx-commit=0",
      "--performance-schema=OFF",
      ...(user ? ["--user=mysql"] : []),
    ],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  const abandon = async (e: unknown): Promise<never> => {
    child.kill("SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw e;
  };
  const viaSocket = (statement: string, password?: string): ReturnType<typeof spawnSync> =>
    spawnSync("mariadb", ["--no-defaults", `--socket=${socket}`, "-uroot", "-N", "-B", "-e", statement], {
      encoding: "utf8",
      env: { ...process.env, ...(password ? { MYSQL_PWD: password } : {}) },
      timeout: 60_000,
    });
  try {
    await waitFor(() => viaSocket("SELECT 1").status === 0, { what: "mariadbd to accept connections" });
  } catch (e) {
    await abandon(e);
  }
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const set = viaSocket(
    `CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';` +
      `ALTER USER 'root'@'localhost' IDENTIFIED BY '${password}';` +
      `ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '${password}';` +
      `GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;`,
  );
  if (set.status !== 0) await abandon(new Error(`setting the root password failed: ${String(set.stderr)}`));
  writeFileSync(join(dir, "root.cnf"), `[client]\npassword=${password}\n`, { mode: 0o600 });
  return {
    url: `mysql://root:${encodeURIComponent(password)}@127.0.0.1:${port}/`,
    port,
    password,
    dir,
    socket,
    sql(statement, database) {
      const r = spawnSync(
        "mariadb",
        [
          `--defaults-extra-file=${join(dir, "root.cnf")}`,
          "-h127.0.0.1",
          `-P${port}`,
          "-uroot",
          "-N",
          "-B",
          ...(database ? [database] : []),
          "-e",
          statement,
        ],
        { encoding: "utf8", timeout: 60_000 },
      );
      if (r.status !== 0) throw new Error(`mariadb: ${r.stderr}`);
      return r.stdout;
    },
    async stop() {
      child.kill("SIGKILL");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
