/**
 * What Slipway reads from running pods, through client-node only: logs (followed over the API
 * server's log stream), commands run in a container (the exec subresource over WebSocket), the
 * metrics API (metrics-server) and the Events the kubelet and scheduler record about a pod.
 */
import { Writable } from "node:stream";
import { Exec, Log, type V1Pod, type V1Status } from "@kubernetes/client-node";
import type { LogLine, LogOptions } from "../driver.js";
import type { Cluster } from "./cluster.js";
import { orUndefined } from "./cluster.js";

export interface PodRef {
  /** The instance id the lines are reported under. */
  instance: string;
  pod: V1Pod;
}

const containerOf = (pod: V1Pod) => pod.spec?.containers?.[0]?.name ?? "";

/** Lines of a chunked text stream, one callback per complete line. */
function lineSink(onLine: (line: string) => void): Writable {
  let rest = "";
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const parts = (rest + chunk.toString("utf8")).split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) onLine(p);
      done();
    },
    final(done) {
      if (rest) onLine(rest);
      done();
    },
  });
}

/** The pods' logs; with `follow`, merged as they come until every stream ends or `signal` aborts. */
export async function* podLogs(c: Cluster, pods: PodRef[], opts: LogOptions): AsyncIterable<LogLine> {
  const base = {
    ...(opts.tail !== undefined ? { tailLines: opts.tail } : {}),
    ...(opts.sinceMs !== undefined ? { sinceSeconds: Math.max(1, Math.ceil(opts.sinceMs / 1000)) } : {}),
  };
  if (!opts.follow) {
    for (const { instance, pod } of pods) {
      const text = await orUndefined(
        c.core.readNamespacedPodLog({ name: pod.metadata?.name ?? "", namespace: c.namespace, ...base }),
      );
      for (const line of String(text ?? "").split("\n")) if (line) yield { instance, stream: "stdout", line };
    }
    return;
  }
  const queue: LogLine[] = [];
  let open = pods.length;
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  const log = new Log(c.config);
  const aborts = await Promise.all(
    pods.map(({ instance, pod }) => {
      const sink = lineSink((line) => {
        if (line) queue.push({ instance, stream: "stdout", line });
        poke();
      });
      sink.on("finish", () => {
        open--;
        poke();
      });
      return log.log(c.namespace, pod.metadata?.name ?? "", containerOf(pod), sink, {
        follow: true,
        ...base,
      });
    }),
  );
  const stop = () => {
    for (const a of aborts) a.abort();
    open = 0;
    poke();
  };
  opts.signal?.addEventListener("abort", stop, { once: true });
  try {
    for (;;) {
      while (queue.length) yield queue.shift() as LogLine;
      if (open <= 0 || opts.signal?.aborted) return;
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    stop();
    opts.signal?.removeEventListener("abort", stop);
  }
}

/** The exit code in the Status the API server sends at the end of an exec. */
export function exitCodeOf(status: V1Status | undefined): number {
  if (!status || status.status === "Success") return 0;
  const cause = status.details?.causes?.find((x) => x.reason === "ExitCode");
  return cause?.message !== undefined ? Number(cause.message) : 1;
}

/** Run a command in the pod's (first) container; a string runs through /bin/sh -c. */
export async function execInPod(
  c: Cluster,
  pod: V1Pod,
  command: string | string[],
  timeoutMs: number,
): Promise<{ exitCode: number; output: string }> {
  let output = "";
  const sink = lineSink((l) => (output += `${l}\n`));
  const argv = typeof command === "string" ? ["/bin/sh", "-c", command] : command;
  const name = pod.metadata?.name ?? "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      resolve({ exitCode: 124, output: `${output}exec in pod ${name} did not finish in ${timeoutMs} ms` });
    }, timeoutMs);
    new Exec(c.config)
      .exec(c.namespace, name, containerOf(pod), argv, sink, sink, null, false, (status) => {
        clearTimeout(timer);
        sink.end(() => {
          const failed =
            status.status !== "Success" && !status.details?.causes?.some((x) => x.reason === "ExitCode");
          resolve({
            exitCode: exitCodeOf(status),
            output: failed && status.message ? `${output}${status.message}\n` : output,
          });
        });
      })
      .catch((e: unknown) => {
        clearTimeout(timer);
        reject(e);
      });
  });
}

/** The newest Warning events about a pod ("Reason: message"), for failure messages. */
export async function podWarnings(c: Cluster, pod: string, max = 3): Promise<string[]> {
  const list = await orUndefined(
    c.core.listNamespacedEvent({ namespace: c.namespace, fieldSelector: `involvedObject.name=${pod}` }),
  );
  const time = (e: { lastTimestamp?: Date | string; eventTime?: Date | string }) =>
    new Date(e.lastTimestamp ?? e.eventTime ?? 0).getTime();
  return (list?.items ?? [])
    .filter((e) => e.type === "Warning")
    .sort((a, b) => time(b) - time(a))
    .slice(0, max)
    .map((e) => `${e.reason}: ${e.message ?? ""}${(e.count ?? 1) > 1 ? ` (×${e.count})` : ""}`);
}

/** CPU (cores) and memory (bytes) of a pod from the metrics API; undefined when the cluster has none. */
export async function podUsage(
  c: Cluster,
  pod: string,
): Promise<{ cpu: number; memory: number } | undefined> {
  let m: { containers?: { usage?: { cpu?: string; memory?: string } }[] } | undefined;
  try {
    m = (await c.custom.getNamespacedCustomObject({
      group: "metrics.k8s.io",
      version: "v1beta1",
      namespace: c.namespace,
      plural: "pods",
      name: pod,
    })) as typeof m;
  } catch {
    return undefined; // no metrics API (404 / 503), or no sample for the pod yet
  }
  const cs = m?.containers ?? [];
  if (!cs.length) return undefined;
  return {
    cpu: cs.reduce((n, x) => n + parseCpu(x.usage?.cpu ?? "0"), 0),
    memory: cs.reduce((n, x) => n + parseMemory(x.usage?.memory ?? "0"), 0),
  };
}

export function parseCpu(q: string): number {
  if (q.endsWith("n")) return Number(q.slice(0, -1)) / 1e9;
  if (q.endsWith("u")) return Number(q.slice(0, -1)) / 1e6;
  if (q.endsWith("m")) return Number(q.slice(0, -1)) / 1000;
  return Number(q);
}
export function parseMemory(q: string): number {
  const units: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 };
  const m = /^(\d+(?:\.\d+)?)([A-Za-z]*)$/.exec(q);
  return m ? Number(m[1]) * (units[m[2] as string] ?? 1) : 0;
}
