/**
 * Deploy freezes (`protect.freeze`): weekly or daily windows such as "Fri 16:00-Mon 08:00" or
 * "22:00-06:00", in UTC unless the window ends with an IANA time zone ("… Europe/Berlin").
 */
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const POINT = /^(?:(mon|tue|wed|thu|fri|sat|sun)[a-z]*\s+)?(\d{1,2}):(\d{2})$/i;

interface Window {
  /** Minutes since Monday 00:00 (weekly) or since midnight (daily). */
  start: number;
  end: number;
  weekly: boolean;
  timeZone: string;
}

function point(text: string): { day?: number; minutes: number } | string {
  const m = POINT.exec(text.trim());
  if (!m) return `"${text.trim()}" is not "[Day] HH:MM"`;
  const h = Number(m[2]);
  const min = Number(m[3]);
  if (h > 23 || min > 59) return `"${text.trim()}" is not a time of day`;
  const day = m[1] ? DAYS.indexOf(m[1].toLowerCase().slice(0, 3)) : undefined;
  return { day, minutes: h * 60 + min };
}

function validZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Parse one window; a string is the reason it is not one. */
export function parseFreeze(text: string): Window | string {
  const parts = text.trim().split(/\s+/);
  let timeZone = "UTC";
  if (parts.length > 1 && /[A-Za-z]+\/|^UTC$/.test(parts[parts.length - 1] as string)) {
    timeZone = parts.pop() as string;
    if (!validZone(timeZone)) return `unknown time zone "${timeZone}"`;
  }
  const halves = parts.join(" ").split("-");
  if (halves.length !== 2) return `a freeze is "Fri 16:00-Mon 08:00" or "22:00-06:00", got "${text}"`;
  const a = point(halves[0] as string);
  const b = point(halves[1] as string);
  if (typeof a === "string") return a;
  if (typeof b === "string") return b;
  if ((a.day === undefined) !== (b.day === undefined))
    return `both ends of "${text}" name a day, or neither does`;
  const weekly = a.day !== undefined;
  const at = (p: { day?: number; minutes: number }) => (p.day ?? 0) * 1440 + p.minutes;
  if (at(a) === at(b)) return `"${text}" starts and ends at the same time`;
  return { start: at(a), end: at(b), weekly, timeZone };
}

/** Minutes since Monday 00:00 of `now` in `timeZone`. */
function minuteOfWeek(now: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  const day = DAYS.indexOf(get("weekday").toLowerCase().slice(0, 3));
  return day * 1440 + Number(get("hour")) * 60 + Number(get("minute"));
}

export function inWindow(w: Window, now: Date): boolean {
  const week = minuteOfWeek(now, w.timeZone);
  const t = w.weekly ? week : week % 1440;
  // A window that wraps (Fri → Mon, 22:00 → 06:00) holds outside [end, start).
  return w.start < w.end ? t >= w.start && t < w.end : t >= w.start || t < w.end;
}

/** The first freeze `now` falls in (as written in the spec), or undefined. */
export function activeFreeze(windows: readonly string[], now: Date): string | undefined {
  return windows.find((text) => {
    const w = parseFreeze(text);
    return typeof w !== "string" && inWindow(w, now);
  });
}
