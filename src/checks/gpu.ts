/**
 * `gpu`: NVIDIA GPUs present and free memory, read from
 * `nvidia-smi --query-gpu=index,name,memory.total,memory.free --format=csv,noheader,nounits`, on
 * this machine or, for a Docker target with SSH hosts, on each host.
 */
import type { GpuCheckSpec } from "../spec/schema-checks.js";
import { runCommand } from "../util/command.js";
import { onEveryHost } from "./on-hosts.js";
import { failed, passed, type CheckOutcome, type CheckRun, type HostShell } from "./types.js";

export interface GpuInfo {
  index: number;
  name: string;
  totalBytes: number;
  freeBytes: number;
}

const MIB = 1024 * 1024;
const gib = (b: number) => `${(b / 1024 ** 3).toFixed(1)}Gi`;

/** Parses nvidia-smi's CSV (memory in MiB, since `nounits`). */
export function parseNvidiaSmi(csv: string): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const line of csv.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const [index, name, total, free] = line.split(",").map((s) => s.trim());
    const g = { index: Number(index), name, totalBytes: Number(total) * MIB, freeBytes: Number(free) * MIB };
    if (!Number.isInteger(g.index) || !Number.isFinite(g.totalBytes) || !Number.isFinite(g.freeBytes)) {
      throw new Error(`unexpected nvidia-smi output: ${JSON.stringify(line.slice(0, 120))}`);
    }
    out.push(g);
  }
  return out;
}

const QUERY = ["--query-gpu=index,name,memory.total,memory.free", "--format=csv,noheader,nounits"];

async function nvidiaSmi(run: CheckRun): Promise<{ missing: true } | { missing: false; stdout: string }> {
  const env = { ...(run.ctx.env ?? process.env) };
  const r = await runCommand("nvidia-smi", QUERY, { env, signal: run.signal, timeoutMs: run.timeoutMs });
  if (r.error?.code === "ENOENT") return { missing: true };
  if (r.error || r.ended || r.code !== 0) {
    const why =
      r.ended || run.signal.aborted
        ? "timed out"
        : (r.stderr.trim().split("\n").pop() ?? r.error?.message ?? `exit ${r.code}`);
    throw new Error(`nvidia-smi failed: ${why}`);
  }
  return { missing: false, stdout: r.stdout };
}

/** nvidia-smi on a remote host: exit 127 is the shell's "command not found". */
async function nvidiaSmiOn(
  host: HostShell,
  run: CheckRun,
): Promise<{ missing: true } | { missing: false; stdout: string }> {
  const r = await host.run(["nvidia-smi", ...QUERY].join(" "), {
    signal: run.signal,
    timeoutMs: run.timeoutMs,
  });
  if (r.code === 127) return { missing: true };
  if (r.code !== 0) {
    const why = r.stderr.trim().split("\n").pop() || r.stdout.trim().split("\n").pop() || `exit ${r.code}`;
    throw new Error(`nvidia-smi failed: ${why}`);
  }
  return { missing: false, stdout: r.stdout };
}

export async function gpuCheck(spec: GpuCheckSpec, run: CheckRun): Promise<CheckOutcome> {
  // A target on other machines (Docker hosts over SSH): nvidia-smi runs on each host.
  const hosts = (await run.ctx.target?.hosts()) ?? [];
  if (hosts.length)
    return onEveryHost(hosts, run, async (h, r) =>
      judgeGpus(spec, await nvidiaSmiOn(h, r), "on the host (no NVIDIA driver there)"),
    );
  let r: Awaited<ReturnType<typeof nvidiaSmi>>;
  try {
    r = await nvidiaSmi(run);
  } catch (e) {
    return failed((e as Error).message);
  }
  return judgeGpus(spec, r, "on PATH (no NVIDIA driver on this machine)");
}

function judgeGpus(
  spec: GpuCheckSpec,
  r: { missing: true } | { missing: false; stdout: string },
  where: string,
): CheckOutcome {
  if (r.missing) {
    const evidence = `nvidia-smi not found ${where}`;
    return spec.ifMissing === "skip" ? { status: "skipped", evidence } : failed(evidence);
  }
  let gpus: GpuInfo[];
  try {
    gpus = parseNvidiaSmi(r.stdout);
  } catch (e) {
    return failed((e as Error).message);
  }
  const considered = spec.devices ? gpus.filter((g) => spec.devices?.includes(g.index)) : gpus;
  const missingDevices = (spec.devices ?? []).filter((d) => !gpus.some((g) => g.index === d));
  const min = spec.minFreeMemory ?? 0;
  const fit = considered.filter((g) => g.freeBytes >= min);
  const list = considered
    .map((g) => `#${g.index} ${g.name} ${gib(g.freeBytes)}/${gib(g.totalBytes)} free`)
    .join(", ");
  const details = { gpus, required: spec.count, minFreeBytes: min };
  const problems: string[] = [];
  if (missingDevices.length)
    problems.push(`GPU(s) ${missingDevices.map((d) => `#${d}`).join(", ")} not present`);
  if (fit.length < spec.count) {
    problems.push(
      `${fit.length} GPU(s) ${min ? `with ≥ ${gib(min)} free ` : ""}of ${spec.count} required` +
        `${spec.devices ? ` among devices ${spec.devices.join(", ")}` : ""}`,
    );
  }
  if (problems.length) return failed(`${problems.join("; ")}: ${list || "no GPUs reported"}`, details);
  return passed(`${fit.length} GPU(s) ${min ? `with ≥ ${gib(min)} free` : "present"}: ${list}`, details);
}
