/**
 * Leave unchanged services alone (as Compose's "up-to-date"): a service whose resolved spec and
 * source (release files, image id, build context) have the fingerprint recorded by the deployed
 * revision keeps its instances. The release label is not part of it: SLIPWAY_VERSION is injected
 * at start, after the fingerprint; a spec that uses ${VERSION} (an image tag) changes with it.
 */
import { createHmac } from "node:crypto";
import type { Instance } from "../drivers/driver.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import type { Revision } from "../store/store.js";
import { homeKey } from "../util/home-key.js";
import type { EngineDeps } from "./context.js";
import { isWarm } from "./warm.js";

/** What a revision records about its services, in `facts`. */
export interface CarryFacts {
  /** Service → fingerprint of its resolved spec and source (absent: unknown, always redeployed). */
  fingerprints?: Record<string, string>;
  /**
   * Service → the earlier revision whose instances it runs: kept unchanged (a `carry` step), or
   * a warm slot a rollback switched back to.
   */
  carried?: Record<string, number>;
}

const factsOf = (rev: Revision) => rev.facts as CarryFacts;

/** The revision a service's serving instances belong to in a deployed revision. */
export function servingRevision(rev: Revision, service: string): number {
  return factsOf(rev).carried?.[service] ?? rev.number;
}

/** Whether an instance is one the revision serves with (its own, or a kept one). */
export function servesIn(rev: Revision, inst: Pick<Instance, "service" | "revision">): boolean {
  return inst.revision === servingRevision(rev, inst.service);
}

export async function fingerprints(
  deps: EngineDeps,
  spec: ResolvedSpec,
  services: readonly string[],
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const key = homeKey(deps.home);
  await Promise.all(
    services.map(async (n) => {
      const svc = spec.services[n];
      const source = await deps.driver.sourceDigest?.(spec.project, spec.env, svc).catch(() => undefined);
      if (source === undefined) return;
      // Secret values are part of the spec (a rotated secret is a change); only an HMAC under
      // SLIPWAY_HOME's own key is stored: a plain hash of a spec would let a short secret be
      // guessed offline from the store. Its group only orders the deploy: joining one changes
      // nothing that runs.
      const doc = {
        service: { ...svc, group: undefined },
        target: spec.target,
        proxyHost: spec.proxyHost,
        source,
      };
      out[n] = createHmac("sha256", key).update(canonical(doc)).digest("hex");
    }),
  );
  return out;
}

/**
 * The services to keep: fingerprint equal to the deployed revision's, instances running, and
 * not named by --force-recreate (`true`: every service is recreated).
 */
export function unchangedServices(input: {
  current?: Revision;
  fingerprints: Record<string, string>;
  live: Instance[];
  spec: ResolvedSpec;
  forceRecreate?: readonly string[] | true;
}): string[] {
  const { current, live, spec } = input;
  if (!current || input.forceRecreate === true) return [];
  const before = factsOf(current).fingerprints ?? {};
  const forced = new Set(input.forceRecreate ?? []);
  return Object.keys(spec.services).filter((n) => {
    const fp = input.fingerprints[n];
    if (!fp || fp !== before[n] || forced.has(n)) return false;
    const running = live.filter((i) => i.service === n && !isWarm(i) && servesIn(current, i));
    return running.length === spec.services[n].replicas;
  });
}

/** JSON with sorted keys: the same spec always gives the same text. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}
