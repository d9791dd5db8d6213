/** A real Redis server for tests, on a loopback port in a temp dir. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./ports.js";

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.on("connect", () => s.write("PING\r\n"));
    s.on("data", (d) => {
      s.destroy();
      resolve(d.toString().startsWith("+PONG"));
    });
    s.on("error", () => resolve(false));
  });
}

export async function startRedis(opts: { password?: string } = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-redis-"));
  const port = await freePort();
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "no",
  ];
  if (opts.password) args.push("--requirepass", opts.password);
  const child = spawn("redis-server", args, { stdio: "ignore" });
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  await waitFor(async () => (opts.password ? true : ping(port)), { what: "redis to answer PING" });
  if (opts.password) await new Promise((r) => setTimeout(r, 300));
  const auth = opts.password ? `:${encodeURIComponent(opts.password)}@` : "";
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      child.kill("SIGKILL");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
