/**
 * Groups of services: which group each service is in and the order groups deploy in. A service
 * may only depend on services of its own group or of an earlier one (a later group deploys after).
 */
import type { PathSegment } from "./load.js";
import type { ResolvedService } from "./resolved.js";
import type { GroupEntry } from "./schema-groups.js";
import { didYouMean } from "./suggest.js";

/** Services without a `group:` (when some have one). */
export const DEFAULT_GROUP = "default";

type At = (path: PathSegment[], message: string) => void;

/**
 * Sets `group` on each service that has one and returns the groups in deploy order, or
 * undefined when the spec uses no groups (then nothing changes for anyone).
 */
export function resolveGroups(
  entries: GroupEntry[] | undefined,
  declared: Record<string, string | undefined>,
  services: Record<string, ResolvedService>,
  at: At,
): { order: string[]; descriptions: Record<string, string> } | undefined {
  const names = Object.keys(services);
  const member = new Map<string, string>();
  const order: string[] = [];
  const descriptions: Record<string, string> = {};
  (entries ?? []).forEach((e, i) => {
    const g = typeof e === "string" ? e : e.name;
    if (order.includes(g)) at(["groups", i], `group "${g}" is listed twice`);
    else order.push(g);
    if (typeof e === "string") return;
    if (e.description) descriptions[g] = e.description;
    for (const m of e.members ?? []) {
      if (!services[m]) at(["groups", i, "members"], `no service "${m}"${didYouMean(m, names)}`);
      else if (member.has(m) && member.get(m) !== g)
        at(["groups", i, "members"], `"${m}" is already a member of group "${member.get(m)}"`);
      else member.set(m, g);
    }
  });
  for (const [svc, g] of Object.entries(declared)) {
    if (g === undefined) continue;
    const listed = member.get(svc);
    if (listed && listed !== g)
      at(
        ["services", svc, "group"],
        `"${svc}" is in group "${g}" here but a member of "${listed}" in groups:`,
      );
    member.set(svc, g);
    if (!order.includes(g)) order.push(g);
  }
  if (!member.size && !entries?.length) return undefined;
  if (names.some((n) => !member.has(n)) && !order.includes(DEFAULT_GROUP)) order.push(DEFAULT_GROUP);
  for (const n of names) services[n].group = member.get(n) ?? DEFAULT_GROUP;
  checkGroupDependencies(services, order, at);
  return { order, descriptions };
}

function checkGroupDependencies(services: Record<string, ResolvedService>, order: string[], at: At): void {
  for (const s of Object.values(services)) {
    for (const d of s.dependsOn) {
      const dep = services[d];
      if (!dep) continue;
      if (order.indexOf(dep.group as string) > order.indexOf(s.group as string))
        at(
          ["services", s.name, "dependsOn"],
          `${s.name} (group ${s.group}) depends on ${d} of the later group ${dep.group}: ` +
            "a group deploys after the groups before it, so move one of them",
        );
    }
  }
}

/** The services a `--group`/`--skip-group` selection leaves in, or undefined when none is given. */
export function servicesOfGroups(
  services: Record<string, ResolvedService>,
  order: readonly string[] | undefined,
  pick: { groups?: readonly string[]; skipGroups?: readonly string[] },
): { services?: string[]; problem?: string } {
  const wanted = pick.groups ?? [];
  const skipped = pick.skipGroups ?? [];
  if (!wanted.length && !skipped.length) return {};
  const known = order ?? [];
  for (const g of [...wanted, ...skipped])
    if (!known.includes(g))
      return {
        problem: known.length
          ? `no group "${g}"${didYouMean(g, known)} (groups: ${known.join(", ")})`
          : `no group "${g}": no service has a group: (see docs/day-two.md#groups)`,
      };
  const names = Object.keys(services).filter((n) => {
    const g = services[n].group as string;
    return (!wanted.length || wanted.includes(g)) && !skipped.includes(g);
  });
  if (!names.length) return { problem: "the --group/--skip-group selection leaves no service to deploy" };
  return { services: names };
}
