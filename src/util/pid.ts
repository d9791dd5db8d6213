/** Is a process alive? The one answer for locks, the outbox owner, health gates and supervisors. */
import { readFileSync } from "node:fs";

/** Alive and not a zombie (a killed process its parent has not reaped yet still answers signal 0). */
export function pidAlive(pid: number | null | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return true; // no procfs: trust the signal
  }
}

/**
 * When a process started, in clock ticks since boot (field 22 of /proc/PID/stat), or undefined
 * without procfs. A pid with a different start time is another process that reused the pid.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** This process as lock holders and outbox claims record it: pid plus start time. */
export function selfIdentity(): { pid: number; startTime: string | undefined } {
  // A process's own start time never changes: read /proc once, not on every lock and claim.
  self ??= { pid: process.pid, startTime: processStartTime(process.pid) };
  return { ...self };
}
let self: { pid: number; startTime: string | undefined } | undefined;

/**
 * Is the process recorded as (pid, startTime) still the one alive? False when the pid is dead
 * or now belongs to a newer process (pid reuse, e.g. a daemon restarted as pid 1 in a container).
 * A record without a start time falls back to `pidAlive`.
 */
export function identityAlive(pid: number | null | undefined, startTime: string | null | undefined): boolean {
  if (!pidAlive(pid)) return false;
  if (!startTime) return true;
  const now = processStartTime(pid as number);
  return now === undefined || now === startTime;
}
