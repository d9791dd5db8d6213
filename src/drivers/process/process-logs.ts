/** `logs` of process instances: the backlog of every instance merged by time, then followed. */
import { join } from "node:path";
import type { Instance, LogLine, LogOptions } from "../driver.js";
import { sleep } from "../../util/sleep.js";
import type { Layout } from "./layout.js";
import { Follower, logFilesNewestFirst, tailLines, toLogLine } from "./log-reader.js";
import { LOG_FILE } from "./state.js";

export async function* processLogs(
  layout: Layout,
  instances: Instance[],
  opts: LogOptions,
): AsyncIterable<LogLine> {
  const since = opts.sinceMs !== undefined ? new Date(Date.now() - opts.sinceMs).toISOString() : undefined;
  const followers: { id: string; f: Follower }[] = [];
  try {
    const backlog: LogLine[] = [];
    for (const inst of instances) {
      const dir = layout.logDir(inst);
      let currentEnd: number | undefined;
      if (opts.follow) {
        const f = new Follower(join(dir, LOG_FILE));
        followers.push({ id: inst.id, f });
        currentEnd = f.startOffset;
      }
      const files = logFilesNewestFirst(dir, LOG_FILE);
      for (const p of tailLines(files, { tail: opts.tail, since, currentEnd }))
        backlog.push(toLogLine(inst.id, p));
    }
    // Interleave instances by time; within one instance the file order stands (stable sort).
    if (instances.length > 1) backlog.sort((a, b) => (a.time ?? "").localeCompare(b.time ?? ""));
    for (const l of backlog) yield l;
    if (!opts.follow) return;
    while (!opts.signal?.aborted) {
      await sleep(200, opts.signal);
      for (const { id, f } of followers) for (const p of f.poll()) yield toLogLine(id, p);
    }
  } finally {
    for (const { f } of followers) f.close();
  }
}

/** The last `n` lines of an instance's log (live or stopped), for failure messages. */
export function lastLogLines(layout: Layout, instance: Instance, n: number): string[] {
  const files = logFilesNewestFirst(layout.logDir(instance), LOG_FILE);
  return tailLines(files, { tail: n }).map((p) => `${p.stream === "stderr" ? "! " : ""}${p.line}`);
}
