/** `tcp`: host:port accepts a TCP connection. */
import { parseHostPort, tcpConnect } from "../health/tcp.js";
import type { TcpCheckSpec } from "../spec/schema-checks.js";
import { attempt } from "./attempt.js";
import type { CheckOutcome, CheckRun } from "./types.js";

export function tcpCheck(spec: TcpCheckSpec, run: CheckRun): Promise<CheckOutcome> {
  return attempt(async () => {
    const hp = parseHostPort(spec.address);
    if (!hp)
      throw new Error(`not a host:port address: "${spec.address}" (is the \${VAR} it comes from set?)`);
    const ms = await tcpConnect(hp.host, hp.port, run.timeoutMs, run.signal);
    return `${spec.address} accepted a TCP connection in ${Math.round(ms)}ms`;
  });
}
