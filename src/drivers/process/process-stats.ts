/** CPU and memory of an instance's application process group, sampled from /proc over 250 ms. */
import type { Instance, InstanceStats } from "../driver.js";
import { sleep } from "../../util/sleep.js";
import { CLOCK_TICKS, PAGE_SIZE, groupMembers, readStat } from "./procfs.js";
import type { ShimState } from "./state.js";

export async function groupStats(
  s: ShimState | undefined,
  instance: Instance,
): Promise<InstanceStats | undefined> {
  const pgid = s?.appPid ?? instance.appPid;
  const leaderStart = s?.appStartTime;
  if (!pgid) return undefined;
  const leader = readStat(pgid);
  if (leader && leaderStart !== undefined && leader.startTime !== leaderStart) return undefined;
  const before = groupMembers(pgid);
  if (before.length === 0) return undefined;
  const t0 = process.hrtime.bigint();
  const ticks0 = new Map(before.map((p) => [`${p.pid}:${p.startTime}`, p.cpuTicks]));
  await sleep(250);
  const after = groupMembers(pgid);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  let ticks = 0;
  let memory = 0;
  for (const p of after) {
    ticks += p.cpuTicks - (ticks0.get(`${p.pid}:${p.startTime}`) ?? 0);
    memory += p.rssPages * PAGE_SIZE;
  }
  return { cpu: Math.max(0, ticks / CLOCK_TICKS / seconds), memory };
}
