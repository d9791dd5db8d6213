/**
 * The driver provider end to end on the process target: the real CLI, daemon and proxy, real app
 * processes, and the process driver's stats() (resident memory summed over the app's process
 * group, read from /proc). The process target enforces no limit, so `memory` is a share of this
 * host's memory and `memoryBytes` the resident bytes. v2 allocates (and touches) ALLOC_MB of
 * memory at start; v1 does not.
 */
import { writeFileSync } from "node:fs";
import { totalmem } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { apiOnlySpec, makeProject, type Project } from "./harness.js";

const APP = `
import { createServer } from "node:http";
const version = process.env.SLIPWAY_VERSION;
// Filled, not zeroed: the pages are touched, so they are resident.
const ballast = Buffer.alloc(Number(process.env.ALLOC_MB || 0) * 1024 * 1024, 1);
const srv = createServer((req, res) => res.end(req.url === "/health" ? "ok" : version + " " + ballast.length));
srv.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => { srv.close(); setTimeout(() => process.exit(0), 50); });
`;

const MiB = 1024 * 1024;
const LIMIT = 250 * MiB;

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

interface Measured {
  metric: string;
  query: string;
  value?: number;
  max?: number;
  verdict: string;
  phase: string;
}
interface Bake {
  phase: string;
  result: { outcome: string; decidedBy?: { metric: string; reason: string }; measurements: Measured[] };
}
const revision = (p: Project, n: number) =>
  p
    .cli(["history", "development", String(n), "--json"])
    .json<{ result: { revision: { status: string; reason?: string; facts: { analysis?: Bake[] } } }[] }>()
    .result[0].revision;

describe("driver metrics (process target) in the bake", () => {
  it("memory within its max passes; a release using more memory than its max is rolled back with the value as evidence", async () => {
    const p = (project = await makeProject());
    writeFileSync(join(p.dir, "app", "app.js"), APP);
    // 250 MiB as a share of this host's memory, the way `memory` measures on this target.
    const share = `${((LIMIT / totalmem()) * 100).toFixed(4)}%`;
    writeFileSync(
      p.file,
      apiOnlySpec(p.ports.api, {
        env: 'ALLOC_MB: "${ALLOC_MB:-0}"',
        rollout: "drainTimeout: 1s",
        rest: `analysis:
  interval: 1s
  bake: 3s
  metrics:
    - { name: memory, provider: driver, query: memory, max: "${share}" }
    - { name: rss, provider: driver, query: memoryBytes, max: 250Mi }
  watch: { autoRollbackWindow: 0s }
`,
      }),
    );

    const v1 = await p.cliAsync(["deploy", "development", "--version", "v1"]);
    expect(v1.code, v1.stderr).toBe(0);
    const good = revision(p, 1).facts.analysis!.find((e) => e.phase === "bake")!.result;
    expect(good.outcome).toBe("successful");
    const goodRss = good.measurements.filter((m) => m.metric === "rss");
    expect(goodRss.length).toBe(3);
    for (const m of goodRss) {
      expect(m.verdict).toBe("pass");
      // A small Node.js app: tens of MiB resident, not zero (stats really read /proc).
      expect(m.value).toBeGreaterThan(10 * MiB);
      expect(m.value).toBeLessThan(LIMIT);
    }

    const v2 = await p.cliAsync(["deploy", "development", "--version", "v2"], { env: { ALLOC_MB: "400" } });
    expect(v2.code, v2.stderr).toBe(1);
    expect(v2.stderr).toMatch(/bake: .*memory [\d.]+ % ✖/);
    expect(v2.stderr).toMatch(/bake: .*rss [\d.]+ MiB ✖/);
    expect(v2.stderr).toContain("traffic back on the previous instances");
    expect((await p.get("api")).body).toBe(`v1 0`);

    const rev = revision(p, 2);
    expect(rev.status).toBe("failed");
    expect(rev.reason).toMatch(/bake: analysis failed: (memory|rss) /);
    const bake = rev.facts.analysis!.find((e) => e.phase === "bake")!.result;
    expect(bake.outcome).toBe("failed");
    const [memory] = bake.measurements.filter((m) => m.metric === "memory");
    const [rss] = bake.measurements.filter((m) => m.metric === "rss");
    expect(memory).toMatchObject({ query: "memory", verdict: "fail", phase: "failed" });
    expect(rss).toMatchObject({ query: "memoryBytes", verdict: "fail", max: LIMIT });
    // 400 MiB of ballast plus the runtime, as resident bytes and as a share of the host.
    expect(rss.value).toBeGreaterThan(400 * MiB);
    expect(rss.value).toBeLessThan(600 * MiB);
    expect(memory.value! * totalmem()).toBeGreaterThan(400 * MiB);
    expect(memory.value!).toBeGreaterThan(memory.max!);
    const human = p.cli(["history", "development", "2"]).stdout;
    expect(human).toMatch(/rss\s+driver memoryBytes\s+≤ 250 MiB\s+failed/);
    expect(human).toMatch(/[\d.]+ MiB > max 250 MiB/);
  });
});
