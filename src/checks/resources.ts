/**
 * `resources`: disk used on a path's file system, memory used, CPU load per core, each below
 * its threshold. Measured on the machine running Slipway (the target for process deploys and a local
 * Docker engine), or on every host of a Docker target reached over SSH (host-resources.ts).
 */
import { readFile, statfs } from "node:fs/promises";
import { availableParallelism, freemem, loadavg, totalmem } from "node:os";
import { resolve } from "node:path";
import type { ResourcesCheckSpec } from "../spec/schema-checks.js";
import { measureOnHost } from "./host-resources.js";
import { onEveryHost } from "./on-hosts.js";
import {
  failed,
  passed,
  type CheckOutcome,
  type CheckRun,
  type LineStatus,
  type ResourceMeasurement,
} from "./types.js";

export type { ResourceMeasurement } from "./types.js";

const pct = (r: number) => `${(r * 100).toFixed(r < 0.1 ? 1 : 0)}%`;

/** Used share of the file system holding `path`, as df computes it (root-reserved blocks count as used). */
export async function diskUsed(
  path: string,
): Promise<{ used: number; freeBytes: number; totalBytes: number }> {
  const s = await statfs(path);
  const usedBlocks = s.blocks - s.bfree;
  const denominator = usedBlocks + s.bavail;
  return {
    used: denominator > 0 ? usedBlocks / denominator : 0,
    freeBytes: s.bavail * s.bsize,
    totalBytes: s.blocks * s.bsize,
  };
}

/** Used share of memory; on Linux MemAvailable (page cache that can be dropped) counts as free. */
export async function memoryUsed(): Promise<{ used: number; availableBytes: number; totalBytes: number }> {
  try {
    const text = await readFile("/proc/meminfo", "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1]);
    const total = kb("MemTotal");
    const avail = kb("MemAvailable");
    if (total > 0 && Number.isFinite(avail)) {
      return { used: 1 - avail / total, availableBytes: avail * 1024, totalBytes: total * 1024 };
    }
  } catch {
    // not Linux: fall back to what the OS reports as free
  }
  return { used: 1 - freemem() / totalmem(), availableBytes: freemem(), totalBytes: totalmem() };
}

export function cpuLoad(): { perCore: number; load1: number; cores: number } {
  const cores = availableParallelism();
  const load1 = loadavg()[0];
  return { perCore: load1 / cores, load1, cores };
}

async function measureHere(spec: ResourcesCheckSpec, run: CheckRun): Promise<ResourceMeasurement> {
  const m: ResourceMeasurement = {};
  if (spec.disk) {
    const path = resolve(run.ctx.cwd, spec.disk.path);
    try {
      m.disk = { path, ...(await diskUsed(path)) };
    } catch (e) {
      m.disk = { path, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
    }
  }
  if (spec.memory) m.memory = await memoryUsed();
  if (spec.cpu) m.cpu = cpuLoad();
  return m;
}

/** Each measurement against its maximum, one line each with its status (the CLI marks them). */
export function judgeResources(spec: ResourcesCheckSpec, m: ResourceMeasurement): CheckOutcome {
  const lines: string[] = [];
  const lineStatus: LineStatus[] = [];
  const details: Record<string, unknown> = {};
  let ok = true;
  const judge = (what: string, value: number, max: number, extra: string) => {
    const over = value > max;
    if (over) ok = false;
    lines.push(`${what} ${pct(value)}${extra} (max ${pct(max)})`);
    lineStatus.push(over ? "failed" : "passed");
    return { value, max, ok: !over };
  };
  if (spec.disk && m.disk) {
    const d = m.disk;
    if ("error" in d) {
      ok = false;
      lines.push(`disk: cannot measure ${d.path}: ${d.error}`);
      lineStatus.push("failed");
    } else {
      const gib = (d.freeBytes / 1024 ** 3).toFixed(1);
      details.disk = {
        path: d.path,
        ...judge("disk used", d.used, spec.disk.max, ` on ${d.path}, ${gib}Gi free`),
      };
    }
  }
  if (spec.memory && m.memory) {
    const gib = (m.memory.availableBytes / 1024 ** 3).toFixed(1);
    details.memory = judge("memory used", m.memory.used, spec.memory.max, `, ${gib}Gi available`);
  }
  if (spec.cpu && m.cpu) {
    const { load1, cores } = m.cpu;
    details.cpu = {
      load1,
      cores,
      ...judge("cpu load", load1 / cores, spec.cpu.max, ` (load ${load1.toFixed(2)} on ${cores} cores)`),
    };
  }
  const outcome = ok ? passed(lines.join("\n"), details) : failed(lines.join("\n"), details);
  return { ...outcome, lineStatus, summaryLines: lines.length };
}

export async function resourcesCheck(spec: ResourcesCheckSpec, run: CheckRun): Promise<CheckOutcome> {
  // A target on other machines (Docker hosts over SSH) is measured there, each host on its own line.
  const hosts = (await run.ctx.target?.hosts()) ?? [];
  if (hosts.length)
    return onEveryHost(hosts, run, async (h, r) => judgeResources(spec, await measureOnHost(spec, h, r)));
  return judgeResources(spec, await measureHere(spec, run));
}
