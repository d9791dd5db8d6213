/** `remove`: stop the instances of a service that is no longer in the spec, and drop its route. */
import { snapshotOf } from "../deployed.js";
import { routeKey } from "../strategies/common.js";
import type { StepRunner } from "./step.js";

export const removeStep: StepRunner = {
  async run(step, { deps, spec, opts, live }) {
    const name = step.service as string;
    const insts = live.filter((i) => i.service === name);
    const prevSvc = snapshotOf(opts.current)?.services?.[name];
    // By port, not proxied(): a snapshot from before `proxy` existed may have routed a stateful one.
    if (prevSvc?.port !== undefined) await (await deps.router()).removeRoute(routeKey(spec, name));
    for (const i of insts) {
      await deps.driver.stop(i, {
        signal: prevSvc?.stop.signal ?? "SIGTERM",
        graceMs: prevSvc?.stop.grace ?? 10_000,
      });
      await deps.store.removeInstance(i.project, i.env, i.id);
    }
    return `${insts.length} instance(s) stopped`;
  },
};
