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
