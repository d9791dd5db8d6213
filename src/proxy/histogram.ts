/**
 * Latency histogram with logarithmic buckets (about 4 % wide), cheap enough for the request
 * hot path: one Math.log and one array increment per sample. Percentiles are read from the
 * cumulative counts, so they are exact to the bucket width whatever the sample count.
 */
const GROWTH = 1.04;
const INV_LOG_GROWTH = 1 / Math.log(GROWTH);
/** Smallest resolved value: 10 µs. Buckets cover up to ~ 1 hour. */
const MIN_MS = 0.01;
const BUCKETS = Math.ceil(Math.log(3_600_000 / MIN_MS) * INV_LOG_GROWTH) + 1;

/** Geometric middle (ms) of bucket i: the value a sample in it is taken to have. */
export function bucketMidMs(i: number): number {
  return MIN_MS * Math.pow(GROWTH, i + 0.5);
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  /** Sum of all samples, milliseconds. */
  sum = 0;

  record(ms: number): void {
    const v = ms > MIN_MS ? ms : MIN_MS;
    let i = Math.floor(Math.log(v / MIN_MS) * INV_LOG_GROWTH);
    if (i >= BUCKETS) i = BUCKETS - 1;
    this.counts[i]++;
    this.count++;
    this.sum += ms;
  }

  /**
   * Non-empty buckets as [index, count] pairs, cumulative since the histogram was created: bucket
   * i holds samples in [0.01 · 1.04^i, 0.01 · 1.04^(i+1)) ms. Two snapshots subtracted give a
   * window's histogram (the analysis' per-window latency percentiles).
   */
  nonEmpty(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]) out.push([i, this.counts[i]]);
    return out;
  }

  /** Value (ms) below which `q` (0..1) of the samples fall; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        // Geometric middle of the bucket.
        return round3(bucketMidMs(i));
      }
    }
    return round3(MIN_MS * Math.pow(GROWTH, BUCKETS));
  }
}

/** Value (ms) below which `q` of the samples fall, from `nonEmpty()` pairs (sorted by index); 0 when empty. */
export function quantileOfBuckets(buckets: [number, number][], q: number): number {
  const count = buckets.reduce((a, [, n]) => a + n, 0);
  if (count === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * count));
  let seen = 0;
  for (const [i, n] of buckets) {
    seen += n;
    if (seen >= rank) return round3(bucketMidMs(i));
  }
  return round3(bucketMidMs((buckets[buckets.length - 1] as [number, number])[0]));
}

/** Bucket-wise sum of several `nonEmpty()` lists (one per worker process), sorted by index. */
export function mergeBuckets(lists: [number, number][][]): [number, number][] {
  const sum = new Map<number, number>();
  for (const l of lists) for (const [i, n] of l) sum.set(i, (sum.get(i) ?? 0) + n);
  return [...sum].sort((a, b) => a[0] - b[0]);
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
