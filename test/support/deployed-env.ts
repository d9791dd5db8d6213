/**
 * A deployed environment as the store records it, and the alerts block that sends its alerts to
 * a webhook: the common ground of the tests of the daemon's scheduled work.
 */
import type { Resolution } from "../../src/spec/resolve.js";
import type { Store } from "../../src/store/store.js";

/** An `alerts:` block sending every alert to the webhook at ${urlVar}, grouped within 0.1–0.2 s. */
export const webhookAlerts = (urlVar: string) => `alerts:
  channels:
    hooks: { type: webhook, url: "\${${urlVar}}" }
  routes:
    - { match: {}, receivers: [hooks] }
  groupWait: 100ms
  groupInterval: 200ms
`;

/** Revision 1 of `res` deployed with `services`, and one running instance `<running>-1` of `running`. */
export async function recordDeployed(
  store: Store,
  res: Resolution,
  services: string[],
  running: string,
): Promise<void> {
  const { project, env, version } = res.spec;
  await store.createRevision({
    ...{ project, env, version, status: "deployed", snapshot: res.snapshot, services },
    ...{ actor: "test", description: `deploy ${version}`, skipChecks: false, facts: {} },
  });
  await store.putInstance({
    ...{ id: `${running}-1`, project, env, service: running, revision: 1, version },
    ...{ slot: "stable", index: 0, state: "running", startedAt: new Date().toISOString(), restarts: 0 },
  });
}
