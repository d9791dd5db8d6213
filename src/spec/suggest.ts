/** "Did you mean …?" for unknown keys and names. */
export function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  const prefix = list.filter((c) => word.length >= 3 && c.toLowerCase().startsWith(word.toLowerCase()));
  if (prefix.length === 1) return prefix[0];
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of list) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s ? ` (did you mean "${s}"?)` : "";
}
