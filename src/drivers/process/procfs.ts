/**
 * The little of /proc the process target needs: liveness that is safe against pid reuse
 * (pid + start time), process-group membership and CPU/memory counters. Linux only.
 */
import { readFileSync, readdirSync } from "node:fs";

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** utime + stime in clock ticks. */
  cpuTicks: number;
  /** Start time in clock ticks after boot (field 22): with the pid, it names a process uniquely. */
  startTime: number;
  /** Resident set size in pages. */
  rssPages: number;
}

/** Clock ticks per second and page size; fixed on every Linux this runs on (getconf CLK_TCK / PAGESIZE). */
export const CLOCK_TICKS = 100;
export const PAGE_SIZE = 4096;

export function readStat(pid: number): ProcStat | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  return parseStat(raw);
}

/** Parses /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
export function parseStat(raw: string): ProcStat | undefined {
  const close = raw.lastIndexOf(")");
  if (close < 0) return undefined;
  const pid = Number(raw.slice(0, raw.indexOf(" ")));
  // Fields from 3 (state) on; f[0] is field 3.
  const f = raw
    .slice(close + 2)
    .trim()
    .split(" ");
  const n = (field: number) => Number(f[field - 3]);
  return {
    pid,
    state: f[0],
    ppid: n(4),
    pgrp: n(5),
    session: n(6),
    cpuTicks: n(14) + n(15),
    startTime: n(22),
    rssPages: n(24),
  };
}

/** The process `pid` is alive and is the very process that was recorded (same start time). */
export function isSameProcess(pid: number | undefined, startTime: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  const s = readStat(pid);
  if (!s || s.state === "Z" || s.state === "X") return false;
  return startTime === undefined || s.startTime === startTime;
}

export function startTimeOf(pid: number): number | undefined {
  return readStat(pid)?.startTime;
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number): ProcStat[] {
  const out: ProcStat[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const name of names) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const s = readStat(Number(name));
    if (s && s.pgrp === pgid && s.state !== "Z" && s.state !== "X") out.push(s);
  }
  return out;
}

/**
 * A process group still has a live (non-zombie) member. kill(-pgid, 0) answers "none at all"
 * without reading /proc, the common case after a clean stop; only a group that still exists is
 * scanned, as zombies count for kill().
 */
export function groupAlive(pgid: number): boolean {
  if (pgid <= 1) return false;
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  return groupMembers(pgid).length > 0;
}

/** Resident memory of a process in bytes (VmRSS), 0 when unknown. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sends a signal, ignoring "no such process". Returns false when nothing received it. */
export function signal(pidOrNegPgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pidOrNegPgid, sig);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw e;
  }
}

/**
 * Kills what is left of an application's process group, guarding against pid reuse: when the
 * group leader still exists it must have the recorded start time. When the leader is gone,
 * any process still in the group is ours: Linux does not hand out a pid that is still used as
 * a process-group id, so the group cannot belong to someone else.
 */
export function killAppGroup(pgid: number | undefined, leaderStartTime: number | undefined): boolean {
  if (!pgid || pgid <= 1) return false;
  const leader = readStat(pgid);
  if (leader && leader.state !== "Z" && leaderStartTime !== undefined && leader.startTime !== leaderStartTime)
    return false;
  if (!groupAlive(pgid)) return false;
  return signal(-pgid, "SIGKILL");
}
