/**
 * One build per distinct build of a deploy: services of one revision whose builds are the same
 * (context directory, dockerfile, build args, target) on the same host are built once, and the
 * others tag that image as their own revision tag. Six services on one context cost one build,
 * not six racing ones that each send the context and run every step.
 */
import type { ResolvedService } from "../../spec/resolved.js";

/** Where a build was made: the service that built it and the image tag it built. */
export interface BuiltBy {
  service: string;
  ref: string;
}

/** The build a service shared (made by `by.service`) failed: `cause` is that build's error. */
export class SharedBuildFailed extends Error {
  constructor(
    readonly by: BuiltBy,
    override readonly cause: unknown,
  ) {
    const message = cause instanceof Error ? cause.message : String(cause);
    super(`the same build as ${by.service}'s, which failed: ${message.replace(/^docker: /, "")}`);
  }
}

interface Entry {
  scope: string;
  revision: number;
  by: BuiltBy;
  done: Promise<void>;
}

/** What makes two builds the same: the context and every option the engine receives. */
export function buildKey(context: string, b: NonNullable<ResolvedService["build"]>): string {
  const args = Object.entries(b.args ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return JSON.stringify([context, b.dockerfile ?? "Dockerfile", args, b.target ?? null]);
}

export class SharedBuilds {
  private readonly entries = new Map<string, Entry>();

  /**
   * Runs `build` (which builds `by.ref`) unless the same build of this revision of the environment
   * runs or ran on this host already: then waits for it and returns who built it (the caller tags
   * that image). A failed build fails its sharers too (SharedBuildFailed: the same inputs fail the
   * same way), then is forgotten so that a later attempt builds again. The builds of an environment's earlier revisions are
   * forgotten when one of a later revision starts.
   */
  async share(
    at: { host: string; project: string; env: string; revision: number },
    key: string,
    by: BuiltBy,
    build: () => Promise<void>,
  ): Promise<BuiltBy | undefined> {
    const scope = JSON.stringify([at.host, at.project, at.env]);
    for (const [k, e] of this.entries)
      if (e.scope === scope && e.revision !== at.revision) this.entries.delete(k);
    const k = `${scope}\n${at.revision}\n${key}`;
    const running = this.entries.get(k);
    if (running) {
      await running.done.catch((e: unknown) => {
        throw new SharedBuildFailed(running.by, e);
      });
      return running.by;
    }
    const entry: Entry = { scope, revision: at.revision, by, done: build() };
    this.entries.set(k, entry);
    try {
      await entry.done;
    } catch (e) {
      if (this.entries.get(k) === entry) this.entries.delete(k);
      throw e;
    }
    return undefined;
  }
}
