/**
 * The house's arrows (DESIGN §3): cli and server use the public surface, the engine never
 * reaches back up, concrete parts are built only by their factory, and nothing imports in a
 * circle. Read from the source with TypeScript's own import scanner, so it stays true as the
 * code moves.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");
const src = join(root, "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(p);
    return /\.ts$/.test(d.name) && !/\.(test|case)\.ts$/.test(d.name) ? [p] : [];
  });
}

/** file (relative to src/, e.g. "engine/run.ts") → the src files it imports, statically or not. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(src)) {
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets = info.importedFiles
      .map((i) => i.fileName)
      .filter((m) => m.startsWith("."))
      .map((m) => relative(src, resolve(dirname(file), m.replace(/\.js$/, ".ts"))))
      .filter((t) => !t.startsWith(".."));
    graph.set(relative(src, file), [...new Set(targets)]);
  }
  return graph;
}

const graph = importGraph();
const edges = [...graph].flatMap(([from, tos]) => tos.map((to) => ({ from, to })));
const room = (f: string) => (f.includes("/") ? f.slice(0, f.indexOf("/")) : f);
const under = (f: string, ...prefixes: string[]) => prefixes.some((p) => f === p || f.startsWith(p));

/** Strongly connected components with more than one member (Tarjan). */
function circles(g: Map<string, string[]>): string[][] {
  let n = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe("the house's arrows", () => {
  it("reads a real graph", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get("cli/main.ts")).toContain("cli/runtime.ts");
  });

  it("has no import circles between files", () => {
    expect(circles(graph)).toEqual([]);
  });

  it("has no circles between rooms (arrows only point down)", () => {
    const rooms = new Map<string, string[]>();
    for (const { from, to } of edges)
      if (room(from) !== room(to)) rooms.set(room(from), [...(rooms.get(room(from)) ?? []), room(to)]);
    expect(circles(rooms)).toEqual([]);
  });

  it("keeps the engine below the façade, the factory, the CLI and the daemon", () => {
    const up = edges.filter(
      (e) =>
        under(e.from, "engine/") && under(e.to, "slipway.ts", "factory.ts", "index.ts", "cli/", "server/"),
    );
    expect(up).toEqual([]);
  });

  it("keeps cli/ and server/ on the public surface (index.ts, core.ts)", () => {
    const off = edges.filter(
      (e) =>
        under(e.from, "cli/", "server/") &&
        !under(e.to, "cli/", "server/", "index.ts", "core.ts") &&
        // the daemon is started by the CLI, never the other way round
        !(under(e.from, "cli/") && under(e.to, "server/")),
    );
    expect(off).toEqual([]);
    expect(edges.filter((e) => under(e.from, "server/") && under(e.to, "cli/"))).toEqual([]);
  });

  it("builds concrete drivers, stores and channels only in their factory", () => {
    const factories: Record<string, string[]> = {
      "drivers/process/": ["factory.ts", "factory/drivers.ts"],
      "drivers/docker/": ["factory.ts", "factory/drivers.ts"],
      "drivers/kubernetes/": ["factory.ts", "factory/drivers.ts"],
      "store/sqlite/": ["store/open.ts"],
      "store/postgres/": ["store/open.ts"],
    };
    for (const ch of ["slack", "webhook", "email", "sms", "voice", "pagerduty"])
      factories[`notify/${ch}.ts`] = ["notify/channels.ts"];
    const stray = edges.filter((e) =>
      Object.entries(factories).some(
        ([impl, allowed]) => under(e.to, impl) && !under(e.from, impl) && !allowed.includes(e.from),
      ),
    );
    expect(stray).toEqual([]);
  });
});
