/**
 * The one way back from a stored revision to a spec that can run. A revision keeps its spec as
 * a snapshot with secrets as `${VAR}` templates; running it again needs values, which come from
 * the secrets an operation brought (when it has them) over the daemon's own environment.
 */
import { rehydrate, type Resolution } from "../spec/resolve.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import type { Revision } from "../store/store.js";

/** The stored snapshot as it is: secrets still templates. For reading, never for running. */
export function snapshotOf(rev: Revision): ResolvedSpec;
export function snapshotOf(rev: Revision | undefined): ResolvedSpec | undefined;
export function snapshotOf(rev: Revision | undefined): ResolvedSpec | undefined {
  return rev?.snapshot as ResolvedSpec | undefined;
}

/**
 * A revision's spec with values: `secrets` (an operation's, by name) over `vars` (default the
 * process environment).
 */
export function deployedSpec(
  rev: Revision,
  secrets?: Iterable<readonly [string, string]>,
  vars: Record<string, string | undefined> = process.env,
): ResolvedSpec {
  return rehydrate(snapshotOf(rev), { ...vars, ...Object.fromEntries(secrets ?? []) });
}

/**
 * The spec of the deployed revision: the latest operation's spec when it deployed this very
 * version, else the snapshot with the latest operation's secrets over the process environment.
 */
export function liveSpec(current: Revision, latest: Resolution | undefined): ResolvedSpec {
  const spec = latest?.spec;
  if (
    spec &&
    spec.project === current.project &&
    spec.env === current.env &&
    spec.version === current.version
  )
    return spec;
  return deployedSpec(current, latest?.secrets);
}

/** A revision as a Resolution to run again (a rollback's target), with `from`'s secrets and vars. */
export function revisionResolution(rev: Revision, from: Resolution): Resolution {
  return {
    spec: deployedSpec(rev, from.secrets),
    snapshot: snapshotOf(rev),
    secrets: from.secrets,
    vars: from.vars,
  };
}
