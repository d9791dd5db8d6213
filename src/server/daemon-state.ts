/**
 * The daemon's run marker (SLIPWAY_HOME/daemon.run): written at start, marked clean at a clean
 * stop. A marker found unmarked at the next start means the previous daemon died (SIGKILL, OOM,
 * a reboot): while it was down nothing watched or healed, and `status` says so.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { identityAlive, selfIdentity, type DaemonRun } from "../index.js";

interface RunMarker {
  pid: number;
  startTime?: string;
  startedAt: string;
  /** Set by a clean stop. */
  stoppedAt?: string;
}

export type { DaemonRun };

const markerFile = (home: string) => join(home, "daemon.run");

function readMarker(home: string): RunMarker | undefined {
  try {
    return JSON.parse(readFileSync(markerFile(home), "utf8")) as RunMarker;
  } catch {
    return undefined;
  }
}

function writeMarker(home: string, m: RunMarker): void {
  const tmp = `${markerFile(home)}.tmp`;
  writeFileSync(tmp, JSON.stringify(m), { mode: 0o600 });
  renameSync(tmp, markerFile(home));
}

/**
 * Record this daemon's start; returns what `status` reports. A previous marker without a clean
 * stop whose process is gone (or is this very pid with another start time: pid reuse) was an
 * unclean stop.
 */
export function markDaemonStart(home: string, startedAt: string): DaemonRun {
  const prev = readMarker(home);
  const self = selfIdentity();
  const prevIsSelf = prev?.pid === self.pid && prev.startTime === self.startTime;
  const unclean =
    !!prev &&
    !prev.stoppedAt &&
    !prevIsSelf &&
    (prev.pid === self.pid || !identityAlive(prev.pid, prev.startTime));
  writeMarker(home, { pid: self.pid, ...(self.startTime ? { startTime: self.startTime } : {}), startedAt });
  return {
    pid: self.pid,
    startedAt,
    afterUncleanStop: unclean,
    ...(unclean && prev ? { previousStartedAt: prev.startedAt } : {}),
  };
}

/** A clean stop: the next start will not report an unclean one. */
export function markDaemonStop(home: string): void {
  const m = readMarker(home);
  const self = selfIdentity();
  if (m && m.pid === self.pid) writeMarker(home, { ...m, stoppedAt: new Date().toISOString() });
}
