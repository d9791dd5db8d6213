/**
 * A check measured on each machine of the target (Docker hosts over SSH): one evidence line per
 * host, naming it; any host failing fails the check, all hosts skipping skips it. A host that
 * cannot be reached fails with what went wrong, not a stack.
 */
import type { CheckOutcome, CheckRun, HostShell } from "./types.js";

export async function onEveryHost(
  hosts: HostShell[],
  run: CheckRun,
  measure: (host: HostShell, run: CheckRun) => Promise<CheckOutcome>,
): Promise<CheckOutcome> {
  // In parallel: the check's deadline is for all hosts, not for each one in turn.
  const outcomes = await Promise.all(
    hosts.map(async (h): Promise<CheckOutcome> => {
      try {
        return await measure(h, run);
      } catch (e) {
        return { status: "failed", evidence: (e as Error).message };
      }
    }),
  );
  // A host's measurements on its line; a command's output by its first line (the details keep it all).
  const lines = outcomes.map(
    (o, i) =>
      `${hosts[i]?.name}: ${o.lineStatus ? o.evidence.split("\n").join("; ") : o.evidence.split("\n")[0]}`,
  );
  const status = outcomes.some((o) => o.status === "failed")
    ? "failed"
    : outcomes.every((o) => o.status === "skipped")
      ? "skipped"
      : "passed";
  const details = {
    hosts: outcomes.map((o, i) => ({
      host: hosts[i]?.name,
      status: o.status,
      evidence: o.evidence,
      ...o.details,
    })),
  };
  return {
    status,
    evidence: lines.join("\n"),
    details,
    summaryLines: lines.length,
    lineStatus: outcomes.map((o) => o.status),
  };
}
