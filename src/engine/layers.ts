import type { ResolvedService } from "../spec/resolved.js";

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
