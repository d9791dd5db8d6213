/** Parsing of the human units used in slipway.yaml: durations, sizes, percentages. */

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "1.5s" → 1500. Returns undefined when the text is not a duration. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === "number") return Number.isFinite(text) && text >= 0 ? text * 1000 : undefined;
  const compound = text.trim().match(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g);
  if (!compound || compound.join("") !== text.trim()) return undefined;
  let total = 0;
  for (const part of compound) {
    const m = DURATION_RE.exec(part);
    if (!m) return undefined;
    total += Number(m[1]) * DURATION_MS[m[2]];
  }
  return total;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m}m${s}s` : `${m}m`;
}

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|ki|kib|m|mb|mi|mib|g|gb|gi|gib|t|tb|ti|tib)?$/i;
const SIZE_MULT: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  ki: 1024,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1e12,
  tb: 1e12,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
};

/** "2Gi" → 2147483648 bytes. A bare number is bytes. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === "number") return text >= 0 ? text : undefined;
  const m = SIZE_RE.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * SIZE_MULT[(m[2] ?? "b").toLowerCase()]);
}

/** "90%" → 0.9; a bare number ≤ 1 is a ratio, else a percentage. */
export function parsePercent(text: string | number): number | undefined {
  if (typeof text === "number") return text <= 1 ? text : text / 100;
  const m = /^(\d+(?:\.\d+)?)\s*%$/.exec(text.trim());
  return m ? Number(m[1]) / 100 : undefined;
}

/** 1536 → "1.5 KiB"; undefined → "-". */
export function formatBytes(n: number | undefined): string {
  if (n === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
