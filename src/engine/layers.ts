import type { ResolvedService, ResolvedSpec } from "../spec/resolved.js";

/** Dependency layers: every service after the services it depends on; a layer runs in parallel. */
export function dependencyLayers(services: Record<string, ResolvedService>, only?: Set<string>): string[][] {
  const names = Object.keys(services).filter((n) => !only || only.has(n));
  const remaining = new Set(names);
  const done = new Set<string>();
  const layers: string[][] = [];
  while (remaining.size) {
    const layer = [...remaining].filter((n) =>
      services[n].dependsOn.every((d) => done.has(d) || !remaining.has(d)),
    );
    if (!layer.length) throw new Error(`dependency cycle among: ${[...remaining].join(", ")}`);
    for (const n of layer) {
      remaining.delete(n);
      done.add(n);
    }
    layers.push(layer);
  }
  return layers;
}

/** A group of services (spec/groups.ts) and its dependency layers, in deploy order. */
export interface GroupLayers {
  name: string;
  description?: string;
  layers: string[][];
}

/**
 * The layers of a deploy: with groups, each group's own dependency layers, group after group
 * (a service depends only on its own or earlier groups); without, the dependency layers.
 */
export function deployLayers(
  spec: ResolvedSpec,
  only?: Set<string>,
): { layers: string[][]; groups?: GroupLayers[] } {
  if (!spec.groups) return { layers: dependencyLayers(spec.services, only) };
  const groups: GroupLayers[] = [];
  for (const g of spec.groups) {
    const members = Object.keys(spec.services).filter(
      (n) => spec.services[n].group === g.name && (!only || only.has(n)),
    );
    if (!members.length) continue;
    const layers = dependencyLayers(spec.services, new Set(members));
    groups.push({ name: g.name, ...(g.description ? { description: g.description } : {}), layers });
  }
  return { layers: groups.flatMap((g) => g.layers), groups };
}
