/**
 * Instances of the process target as recorded in their state files, and how the driver tidies
 * up after one: a dead shim's application group is killed, its logs kept, its directory removed.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Instance, RetireReason } from "../driver.js";
import type { Logger } from "../../logger.js";
import { msg, type Layout } from "./layout.js";
import { killAppGroup } from "./procfs.js";
import { LOG_DIR, SHIM_LOG, readJson, writeJsonAtomic, type ShimState } from "./state.js";

/** Beside a retired instance's kept logs: who it was and why it was retired (`logs --revision`). */
const RETIRED_FILE = "retired.json";
type Archived = Pick<Instance, "project" | "env" | "service" | "id"> &
  Partial<Pick<Instance, "revision" | "version" | "slot" | "index">>;

export function toInstance(s: ShimState, dir: string): Instance {
  return {
    id: s.id,
    project: s.project,
    env: s.env,
    service: s.service,
    revision: s.revision,
    version: s.version,
    slot: s.slot,
    index: s.index,
    state: s.state,
    ...(s.port !== undefined ? { host: s.host ?? "127.0.0.1", port: s.port } : {}),
    pid: s.shimPid,
    ...(s.appPid !== undefined ? { appPid: s.appPid } : {}),
    startedAt: s.startedAt,
    restarts: s.restarts,
    ...(s.lastExit ? { lastExit: s.lastExit } : {}),
    meta: {
      dir,
      startTime: s.shimStartTime,
      appStartTime: s.appStartTime,
      ...(s.release ? { release: s.release } : {}),
    },
  };
}

/** Best effort when the state file is gone: what the Instance itself recorded. */
export function fromInstance(i: Instance): ShimState {
  const meta = i.meta ?? {};
  return {
    id: i.id,
    project: i.project,
    env: i.env,
    service: i.service,
    revision: i.revision,
    version: i.version,
    slot: i.slot,
    index: i.index,
    state: i.state,
    shimPid: i.pid ?? 0,
    shimStartTime: typeof meta.startTime === "number" ? meta.startTime : -1,
    appPid: i.appPid,
    appStartTime: typeof meta.appStartTime === "number" ? meta.appStartTime : undefined,
    startedAt: i.startedAt,
    restarts: i.restarts,
    ...(typeof meta.release === "string" ? { release: meta.release } : {}),
  };
}

/** Keeps the logs of stopped instances (the last `keep` per service) and removes their directories. */
export class Archive {
  constructor(
    private readonly layout: Layout,
    private readonly logger: Logger,
    private readonly keep: number,
  ) {}

  /** A dead shim's leftovers: its application group, then the directory (logs kept). */
  reap(dir: string, s: ShimState): void {
    if (killAppGroup(s.appPid, s.appStartTime))
      this.logger.warn("supervisor gone: killed its application process group", { id: s.id, pgid: s.appPid });
    else this.logger.info("supervisor gone: instance removed", { id: s.id });
    this.archive(dir, s);
  }

  /** Moves an instance's logs to logs/<project>/<env>/<service>/<id>/ and removes its directory. */
  archive(dir: string, i: Archived, retired?: RetireReason): void {
    if (!existsSync(dir)) return;
    const dest = this.layout.stoppedLogDir(i);
    try {
      mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
      if (existsSync(join(dir, LOG_DIR))) {
        rmSync(dest, { recursive: true, force: true });
        renameSync(join(dir, LOG_DIR), dest);
        if (existsSync(join(dir, SHIM_LOG))) renameSync(join(dir, SHIM_LOG), join(dest, SHIM_LOG));
      }
    } catch (e) {
      // Two cleaners at once (stop and inspect): the other one moved them.
      this.logger.debug("could not keep the logs of a stopped instance", { id: i.id, error: msg(e) });
    }
    rmSync(dir, { recursive: true, force: true });
    if (retired && i.revision !== undefined && existsSync(dest))
      writeJsonAtomic(join(dest, RETIRED_FILE), {
        id: i.id,
        project: i.project,
        env: i.env,
        service: i.service,
        revision: i.revision,
        version: i.version ?? "",
        slot: i.slot ?? "stable",
        index: i.index ?? 0,
        retired,
        stoppedAt: new Date().toISOString(),
      });
    this.pruneStoppedLogs(dirname(dest));
  }

  /** The retired instances whose logs are kept, newest first (not live: never routed or adopted). */
  retired(project: string, env: string): Instance[] {
    const base = this.layout.stoppedLogsOf(project, env);
    const out: (Instance & { stoppedAt: string })[] = [];
    for (const service of list(base))
      for (const id of list(join(base, service))) {
        const r = readJson<Archived & { retired: RetireReason; stoppedAt: string }>(
          join(base, service, id, RETIRED_FILE),
        );
        if (!r || r.id !== id || r.service !== service || typeof r.revision !== "number") continue;
        out.push({
          id,
          project,
          env,
          service,
          revision: r.revision,
          version: r.version ?? "",
          slot: r.slot ?? "stable",
          index: r.index ?? 0,
          state: "exited",
          startedAt: r.stoppedAt,
          stoppedAt: r.stoppedAt,
          restarts: 0,
          meta: { retired: r.retired },
        });
      }
    return out.sort((a, b) => b.stoppedAt.localeCompare(a.stoppedAt)).map(({ stoppedAt: _s, ...i }) => i);
  }

  private pruneStoppedLogs(serviceDir: string): void {
    let entries: { path: string; mtime: number }[];
    try {
      entries = readdirSync(serviceDir).map((n) => {
        const path = join(serviceDir, n);
        return { path, mtime: statSync(path).mtimeMs };
      });
    } catch {
      return;
    }
    entries.sort((a, b) => b.mtime - a.mtime);
    for (const e of entries.slice(this.keep)) rmSync(e.path, { recursive: true, force: true });
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
