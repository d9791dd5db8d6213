/**
 * Where the process target keeps things under SLIPWAY_HOME:
 *   releases/<project>/<env>/<service>/r<revision>/   immutable copy of the service's `path`
 *   instances/<project>/<env>/<id>/                   state.json, shim.log, logs/app.log*
 *   logs/<project>/<env>/<service>/<id>/              logs of stopped instances (last few kept)
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Instance } from "../driver.js";
import { DriverError } from "../../errors.js";
import { LOG_DIR } from "./state.js";

export const NAME = "process";

type InstanceKey = Pick<Instance, "project" | "env" | "service" | "id">;

export class Layout {
  constructor(readonly home: string) {}

  releasesOf(project: string, env: string, service: string): string {
    return join(this.home, "releases", seg(project), seg(env), seg(service));
  }

  releaseDir(project: string, env: string, service: string, revision: number): string {
    return join(this.releasesOf(project, env, service), `r${revision}`);
  }

  instancesOf(project: string, env: string): string {
    return join(this.home, "instances", seg(project), seg(env));
  }

  instanceDir(project: string, env: string, id: string): string {
    return join(this.instancesOf(project, env), seg(id));
  }

  /** Where an instance's log files are: its live directory, else the logs kept after its stop. */
  logDir(instance: InstanceKey): string {
    const live = join(this.instanceDir(instance.project, instance.env, instance.id), LOG_DIR);
    return existsSync(live) ? live : this.stoppedLogDir(instance);
  }

  /** logs/<project>/<env>/: the kept logs of the environment's stopped instances, per service. */
  stoppedLogsOf(project: string, env: string): string {
    return join(this.home, "logs", seg(project), seg(env));
  }

  stoppedLogDir(i: InstanceKey): string {
    return join(this.home, "logs", seg(i.project), seg(i.env), seg(i.service), seg(i.id));
  }
}

/** One path segment: names come from the spec, but a path must never escape `home`. */
function seg(s: string): string {
  if (!s || s === "." || s === ".." || s.includes("/") || s.includes("\0"))
    throw new DriverError(NAME, `invalid name "${s}" for a directory`);
  return s;
}

export function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
