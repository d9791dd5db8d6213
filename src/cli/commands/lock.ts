import type { Cli } from "../runtime.js";
import type { LockInfo } from "../../index.js";
import { green, yellow } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("lock <env>")
    .description("show the environment's deploy lock; --release clears a stale one")
    .option("--release", "release the lock (only when its holder is gone)")
    .action(
      cli.action(
        async (env: string, o: { release?: boolean }) => {
          const r = (await cli.op("lock", await cli.light(env), { release: o.release })) as
            { lock: LockInfo | null } | { released: boolean; holder?: LockInfo };
          cli.finish(r, (out) => {
            if ("lock" in r)
              out.stdout(
                r.lock
                  ? yellow(out, `locked by ${r.lock.holder} (${r.lock.operation}) since ${r.lock.acquiredAt}`)
                  : "not locked",
              );
            else
              out.stdout(
                r.released ? green(out, `✔ released the lock held by ${r.holder?.holder}`) : "not locked",
              );
          });
        },
        { light: true },
      ),
    );
}
