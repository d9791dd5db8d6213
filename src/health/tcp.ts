/** TCP probe: healthy when host:port accepts a connection. */
import { connect } from "node:net";
import type { Probe, ProbeResult, ProbeTarget } from "./probe.js";
import { abortReason, deadline } from "./signal.js";

/** Opens and closes one TCP connection; resolves with the time it took, rejects with the reason. */
export function tcpConnect(
  host: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<number> {
  const started = performance.now();
  const sig = deadline(timeoutMs, signal);
  return new Promise((resolve, reject) => {
    if (sig.aborted) return reject(new Error(abortReason(sig, timeoutMs)));
    const socket = connect({ host, port });
    const onAbort = () => {
      socket.destroy();
      reject(new Error(`connect ${host}:${port}: ${abortReason(sig, timeoutMs)}`));
    };
    sig.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => {
      sig.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(performance.now() - started);
    });
    socket.once("error", (e: NodeJS.ErrnoException) => {
      sig.removeEventListener("abort", onAbort);
      socket.destroy();
      reject(new Error(`connect ${host}:${port}: ${e.code ?? e.message}`));
    });
  });
}

/** Splits "host:port" / "[::1]:443"; undefined when it is not that shape. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(\[([0-9a-fA-F:.]+)\]|[^\s:/]+):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[2] ?? m[1], port };
}

export class TcpProbe implements Probe {
  readonly kind = "tcp";
  async check(target: ProbeTarget, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<ProbeResult> {
    const started = performance.now();
    if (target.port === undefined) {
      return { ok: false, message: "tcp probe: the instance has no port", durationMs: 0 };
    }
    try {
      const ms = await tcpConnect(target.host, target.port, opts.timeoutMs, opts.signal);
      return {
        ok: true,
        message: `TCP ${target.host}:${target.port} open in ${Math.round(ms)}ms`,
        durationMs: ms,
      };
    } catch (e) {
      return { ok: false, message: (e as Error).message, durationMs: performance.now() - started };
    }
  }
}
