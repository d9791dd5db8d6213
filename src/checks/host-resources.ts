/**
 * `resources` measured on a remote host through one shell command: /proc/meminfo, /proc/loadavg
 * with nproc, and `df -P` of the disk path — an absolute `path`, else the host engine's Docker
 * root dir (where images, containers and volumes fill the disk), else `/`.
 */
import { isAbsolute } from "node:path";
import type { ResourcesCheckSpec } from "../spec/schema-checks.js";
import type { CheckRun, HostShell, ResourceMeasurement } from "./types.js";

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The path whose file system is measured on the host. */
async function diskPath(spec: NonNullable<ResourcesCheckSpec["disk"]>, host: HostShell): Promise<string> {
  // A relative path (the default ".") names the spec's directory, which exists only on this machine.
  if (isAbsolute(spec.path)) return spec.path;
  return (await host.dockerRootDir?.().catch(() => undefined)) || "/";
}

/** The shell script: each part after a marker line, so one missing file does not hide the others. */
export function resourcesScript(spec: ResourcesCheckSpec, path?: string): string {
  const parts: string[] = [];
  if (spec.memory) parts.push("echo @meminfo", "cat /proc/meminfo");
  if (spec.cpu)
    parts.push(
      "echo @loadavg",
      "cat /proc/loadavg",
      "echo @nproc",
      "nproc 2>/dev/null || getconf _NPROCESSORS_ONLN",
    );
  if (spec.disk && path !== undefined) parts.push("echo @df", `df -P -k -- ${quote(path)} 2>&1`);
  return parts.join("\n");
}

/** The output split at the marker lines. */
function sections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let name = "";
  for (const line of stdout.split("\n")) {
    const m = /^@(\w+)$/.exec(line);
    if (m) {
      name = m[1] as string;
      out.set(name, "");
    } else if (name) out.set(name, `${out.get(name)}${line}\n`);
  }
  return out;
}

export function parseResources(
  spec: ResourcesCheckSpec,
  stdout: string,
  path: string | undefined,
): ResourceMeasurement {
  const s = sections(stdout);
  const m: ResourceMeasurement = {};
  if (spec.memory) {
    const text = s.get("meminfo") ?? "";
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1]);
    const total = kb("MemTotal");
    const avail = kb("MemAvailable");
    if (!(total > 0) || !Number.isFinite(avail))
      throw new Error("cannot read MemTotal/MemAvailable from /proc/meminfo (not a Linux host?)");
    m.memory = { used: 1 - avail / total, availableBytes: avail * 1024 };
  }
  if (spec.cpu) {
    const load1 = Number((s.get("loadavg") ?? "").split(/\s+/)[0]);
    const cores = Number((s.get("nproc") ?? "").trim());
    if (!Number.isFinite(load1) || !(cores > 0))
      throw new Error("cannot read /proc/loadavg and nproc (not a Linux host?)");
    m.cpu = { load1, cores };
  }
  if (spec.disk && path !== undefined) {
    const text = (s.get("df") ?? "").trim();
    // Filesystem 1024-blocks Used Available Capacity Mounted-on; names may contain spaces.
    const row = /^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)%\s+(.+)$/m.exec(text.split("\n").slice(1).join("\n"));
    if (!row) m.disk = { path, error: text.split("\n").pop() || "df printed nothing" };
    else {
      const used = Number(row[3]);
      const avail = Number(row[4]);
      m.disk = { path, used: used + avail > 0 ? used / (used + avail) : 0, freeBytes: avail * 1024 };
    }
  }
  return m;
}

export async function measureOnHost(
  spec: ResourcesCheckSpec,
  host: HostShell,
  run: CheckRun,
): Promise<ResourceMeasurement> {
  const path = spec.disk ? await diskPath(spec.disk, host) : undefined;
  const r = await host.run(resourcesScript(spec, path), { signal: run.signal, timeoutMs: run.timeoutMs });
  return parseResources(spec, r.stdout, path);
}
