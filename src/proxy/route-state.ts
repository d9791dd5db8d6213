/** A route as the data plane holds it: the declared route, its live targets and its balancer. */
import { createHash } from "node:crypto";
import type { Slot } from "./contract.js";
import { SlotBalancer } from "./balancer.js";
import type { Route } from "./contract.js";
import type { Target } from "./target.js";

export class RouteState {
  readonly balancer = new SlotBalancer<Target>();
  targets = new Map<string, Target>();
  /** Cookies are shared across ports of a host, so the name carries the route. */
  readonly cookieName: string;

  constructor(public route: Route) {
    this.cookieName = `slipway_slot_${createHash("sha256").update(route.key).digest("hex").slice(0, 10)}`;
  }

  /** The slot remembered by the sticky cookie, when stickiness applies to this request. */
  stickySlot(cookieHeader: string | undefined): Slot | undefined | null {
    const r = this.route;
    if (!r.sticky || r.candidateWeight <= 0 || r.candidateWeight >= 100) return null;
    if (!cookieHeader) return undefined;
    const i = cookieHeader.indexOf(this.cookieName + "=");
    if (i < 0) return undefined;
    const v = cookieHeader.slice(i + this.cookieName.length + 1, i + this.cookieName.length + 10);
    if (v.startsWith("stable")) return "stable";
    if (v.startsWith("candidate")) return "candidate";
    return undefined;
  }

  cookieFor(slot: Slot): string {
    return `${this.cookieName}=${slot}; Path=/; HttpOnly; SameSite=Lax`;
  }
}
