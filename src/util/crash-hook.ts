/**
 * A test hook, and only that: with SLIPWAY_TEST_CRASH_AT=<revision>:<seq> in its environment, the
 * process kills itself with SIGKILL the moment that journal step of that revision is recorded as
 * running, as `kill -9` of the daemon at exactly that point would (test/e2e/crash-steps.test.ts,
 * bench/recovery.ts). `<revision>:<seq>+` kills it just after the step's work, before the journal
 * records its outcome. Unset, it costs one environment lookup per step.
 */
export function crashPoint(revision: number, seq: number, after = false): void {
  const at = process.env.SLIPWAY_TEST_CRASH_AT;
  if (!at) return;
  if (at === `${revision}:${seq}${after ? "+" : ""}`) process.kill(process.pid, "SIGKILL");
}
