/** Who is acting: `user@host` (SLIPWAY_ACTOR overrides the user), as recorded in revisions, locks and confirmations. */
import { hostname, userInfo } from "node:os";

export function localActor(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return `${process.env.SLIPWAY_ACTOR ?? user}@${hostname()}`;
}
