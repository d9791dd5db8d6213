/**
 * A free TCP port on 127.0.0.1 for a proxied instance.
 *
 * Taken from below the kernel's ephemeral range, not with listen(0): a port listen(0) hands out
 * comes from that range, and between our check and the instance's own listen the kernel may give
 * it to an outgoing connection (the proxy's upstream connections, the app's database pool), and
 * the instance then fails with EADDRINUSE. The kernel never picks a port outside the range for an
 * outgoing connection. A port handed out recently is not handed out again, so two instances
 * starting at once never get the same one.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { DriverError } from "../../errors.js";
import { NAME } from "./layout.js";

/** Above the ports the test suite draws from (test/support/ports.ts: 10000–29999). */
const LOW = 30_000;
/** Linux's default ephemeral range starts at 32768; macOS's at 49152. */
const DEFAULT_EPHEMERAL_LOW = 32_768;
/** How long a handed-out port is not handed out again (the instance binds it well within that). */
const RESERVE_MS = 120_000;
const recent = new Map<number, number>();

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : DEFAULT_EPHEMERAL_LOW;
  } catch {
    return DEFAULT_EPHEMERAL_LOW;
  }
}

function bindable(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    // Not unref'd: a CLI run with nothing else pending would exit before the port is known.
    const srv = createServer();
    srv.once("error", () => resolve(undefined));
    srv.listen(port, "127.0.0.1", () => {
      const a = srv.address();
      const got = typeof a === "object" && a ? a.port : 0;
      srv.close(() => resolve(got || undefined));
    });
  });
}

/** Bound, then released for the instance to take. */
export async function freeLoopbackPort(): Promise<number> {
  const now = Date.now();
  for (const [p, at] of recent) if (now - at > RESERVE_MS) recent.delete(p);
  const high = ephemeralLow() - 1;
  const span = high - LOW + 1;
  if (span >= 500) {
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < Math.min(span, 2000); i++) {
      const port = LOW + ((start + i) % span);
      if (recent.has(port)) continue;
      if (await bindable(port)) {
        recent.set(port, now);
        return port;
      }
    }
  }
  // A machine whose ephemeral range starts low (or whose low ports are all taken): the kernel's pick.
  const port = await bindable(0);
  if (!port) throw new DriverError(NAME, "no free port on 127.0.0.1");
  recent.set(port, now);
  return port;
}
