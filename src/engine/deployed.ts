/**
 * The one way back from a stored revision to a spec that can run. A revision keeps its spec as
 * a snapshot with secrets as `${VAR}` templates; running it again needs values, which come from
 * the secrets an operation brought and from the env files the snapshot recorded (read again).
 * Never from the daemon's own environment: that is whatever shell first started the daemon,
 * possibly another environment's. A value found nowhere refuses the action (MissingVariables).
 */
import { OperationFailed } from "../errors.js";
import { rehydrate, type Resolution } from "../spec/resolve.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import { rehydrateChecked } from "../spec/snapshot.js";
import type { Revision } from "../store/store.js";
import { substituteOutputs } from "./infra/outputs.js";

/** A stored revision cannot run again: some of its variables have no value here. */
export class MissingVariables extends OperationFailed {
  override name = "MissingVariables";
  constructor(
    readonly revision: Revision,
    readonly variables: string[],
  ) {
    super(
      `revision ${revision.number} (${revision.version}) of ${revision.project}/${revision.env} cannot run ` +
        `again: no value for ${variables.join(", ")} (not in its env files, and not brought by an operation; ` +
        `the daemon's own environment is never used). Run a deploy or rollback from a shell that has ` +
        `${variables.length > 1 ? "them" : "it"}.`,
    );
    this.details = { revision: revision.number, missing: variables };
  }
}

/** The stored snapshot as it is: secrets still templates. For reading, never for running. */
export function snapshotOf(rev: Revision): ResolvedSpec;
export function snapshotOf(rev: Revision | undefined): ResolvedSpec | undefined;
export function snapshotOf(rev: Revision | undefined): ResolvedSpec | undefined {
  return rev?.snapshot as ResolvedSpec | undefined;
}

/**
 * A revision's spec with values, to run: `secrets` (an operation's, by name) and the env files
 * the snapshot recorded. Throws MissingVariables, naming them, when a reference has no value.
 */
export function deployedSpec(rev: Revision, secrets?: Iterable<readonly [string, string]>): ResolvedSpec {
  const { value, missing } = rehydrateChecked(snapshotOf(rev), Object.fromEntries(secrets ?? []));
  if (missing.length) throw new MissingVariables(rev, missing);
  return withRecordedOutputs(rev, value);
}

/** The Terraform outputs (`${tf.NAME}`) the revision ran with, known only after its apply. */
function withRecordedOutputs(rev: Revision, spec: ResolvedSpec): ResolvedSpec {
  const outputs = (rev.facts as { tfOutputs?: Record<string, unknown> }).tfOutputs;
  return outputs ? substituteOutputs(spec, outputs).spec : spec;
}

/**
 * deployedSpec() for restarting some of a revision's services (undo, recovery): strict about the
 * variables those services use, not about the rest (an alert channel's URL brought by the
 * operation's shell must not keep a crashed deploy's previous release from starting again).
 */
export function restartableSpec(
  rev: Revision,
  services: string[],
  secrets?: Iterable<readonly [string, string]>,
): ResolvedSpec {
  const vars = Object.fromEntries(secrets ?? []);
  const snap = snapshotOf(rev);
  const needed = Object.fromEntries(
    services.filter((n) => snap.services[n]).map((n) => [n, snap.services[n]]),
  );
  const { missing } = rehydrateChecked(
    { ...snap, services: needed, alerts: undefined, checks: [], schedules: [] },
    vars,
  );
  if (missing.length) throw new MissingVariables(rev, missing);
  return rehydrate(snap, vars);
}

/**
 * A revision's spec for reading and for what needs no secret (pruning artifacts, listing
 * schedules, stopping instances): references without a value are left empty.
 */
export function readableSpec(rev: Revision, secrets?: Iterable<readonly [string, string]>): ResolvedSpec {
  return withRecordedOutputs(rev, rehydrate(snapshotOf(rev), Object.fromEntries(secrets ?? [])));
}

/** deployedSpec(), or when values are missing the readable spec and why it cannot run. */
export function specOrMissing(rev: Revision): { spec: ResolvedSpec; missing?: MissingVariables } {
  try {
    return { spec: deployedSpec(rev) };
  } catch (e) {
    if (!(e instanceof MissingVariables)) throw e;
    return { spec: readableSpec(rev), missing: e };
  }
}

/**
 * The spec of the deployed revision: the latest operation's spec when it deployed this very
 * version, else the snapshot with the latest operation's secrets (MissingVariables if short).
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
