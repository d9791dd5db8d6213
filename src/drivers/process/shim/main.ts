/**
 * Entry of the process-target supervisor, spawned detached by ProcessDriver. Its configuration
 * (with the instance's secrets) arrives as one JSON document on stdin, a pipe the driver closes
 * right after writing it: nothing secret on argv, in this process's environment or on disk.
 */
import type { ShimConfig } from "../state.js";
import { Supervisor } from "./supervisor.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function main(): Promise<void> {
  const cfg = JSON.parse(await readStdin()) as ShimConfig;
  process.chdir(cfg.instanceDir);
  const sup = new Supervisor(cfg);
  const onSignal = () => void sup.stop();
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  process.on("SIGHUP", () => {});
  process.on("uncaughtException", (e) => {
    console.error(`slipway shim: ${e.stack ?? e.message}`);
    void sup.stop().finally(() => process.exit(1));
  });
  try {
    sup.start();
  } catch (e) {
    console.error(`slipway shim: ${(e as Error).message}`);
    process.exit(1);
  }
  // The shim outlives an application that exited for good (policy "no"): it holds the instance
  // (state, logs) until stop(). Nothing else would keep the event loop alive then.
  const keepAlive = setInterval(() => {}, 1 << 30);
  await sup.done;
  clearInterval(keepAlive);
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(`slipway shim: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
