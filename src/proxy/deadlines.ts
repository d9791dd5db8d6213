/**
 * Response deadlines of the exchanges in flight, checked by one coarse timer (every 50 ms)
 * instead of a setTimeout + clearTimeout per request, which cost ≈ 2 µs per exchange here —
 * about 5 % of the proxy's CPU per request. A timeout fires at most one tick late.
 *
 * The exchanges are kept in an intrusive doubly linked list whose links are cleared on removal,
 * not in a Set: a Set that sees an add and a delete per request rehashes its table every few
 * dozen requests, and V8 keeps each obsolete table linked to its successor (for iterators), so
 * a table promoted to the old generation held every later table and every exchange in them
 * alive through the scavenges — all of a request's objects were promoted (≈ 800 bytes per
 * request, scavenges of 5–8 ms every 100 ms at 20k req/s: the proxy's p99 tail).
 */
export interface Timed {
  deadline: number;
  /** Watch-list links, owned by this module (undefined while not watched). */
  timedPrev: Timed | undefined;
  timedNext: Timed | undefined;
  expire(): void;
}

const TICK_MS = 50;
let first: Timed | undefined;
let last: Timed | undefined;
let timer: NodeJS.Timeout | undefined;

export function watch(t: Timed, ms: number): void {
  if (t === first || t.timedPrev) unlink(t);
  t.deadline = performance.now() + ms;
  t.timedPrev = last;
  t.timedNext = undefined;
  if (last) last.timedNext = t;
  else first = t;
  last = t;
  timer ??= setInterval(sweep, TICK_MS).unref();
}

export function unwatch(t: Timed): void {
  if (t === first || t.timedPrev) unlink(t);
}

function unlink(t: Timed): void {
  const { timedPrev: p, timedNext: n } = t;
  if (p) p.timedNext = n;
  else first = n;
  if (n) n.timedPrev = p;
  else last = p;
  t.timedPrev = t.timedNext = undefined;
}

function sweep(): void {
  if (!first) {
    clearInterval(timer);
    timer = undefined;
    return;
  }
  const now = performance.now();
  for (let t: Timed | undefined = first; t;) {
    const next: Timed | undefined = t.timedNext;
    if (t.deadline <= now) {
      unlink(t);
      t.expire();
    }
    t = next;
  }
}
