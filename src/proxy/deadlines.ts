/**
 * Response deadlines of the exchanges in flight, checked by one coarse timer (every 50 ms)
 * instead of a setTimeout + clearTimeout per request, which cost ≈ 2 µs per exchange here —
 * about 5 % of the proxy's CPU per request. A timeout fires at most one tick late.
 */
export interface Timed {
  deadline: number;
  expire(): void;
}

const TICK_MS = 50;
const watched = new Set<Timed>();
let timer: NodeJS.Timeout | undefined;

export function watch(t: Timed, ms: number): void {
  t.deadline = performance.now() + ms;
  watched.add(t);
  timer ??= setInterval(sweep, TICK_MS).unref();
}

export function unwatch(t: Timed): void {
  watched.delete(t);
}

function sweep(): void {
  if (watched.size === 0) {
    clearInterval(timer);
    timer = undefined;
    return;
  }
  const now = performance.now();
  for (const t of watched)
    if (t.deadline <= now) {
      watched.delete(t);
      t.expire();
    }
}
