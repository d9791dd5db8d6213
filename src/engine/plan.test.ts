import { describe, expect, it } from "vitest";
import type { Instance } from "../drivers/driver.js";
import type { ResolvedService, ResolvedSpec } from "../spec/resolved.js";
import type { Revision } from "../store/store.js";
import { dependencyLayers } from "./layers.js";
import { plan } from "./plan.js";
import { resolvedService } from "../spec/defaults.js";

function svc(name: string, extra: Partial<ResolvedService> = {}): ResolvedService {
  return resolvedService(name, { run: "node x.js", path: "/tmp", ...extra });
}

const spec = (services: ResolvedService[], checks: unknown[] = []): ResolvedSpec => ({
  project: "p",
  env: "dev",
  file: "/tmp/slipway.yaml",
  dir: "/tmp",
  version: "v2",
  target: { kind: "process" },
  proxyHost: "127.0.0.1",
  services: Object.fromEntries(services.map((s) => [s.name, s])),
  checks: checks as ResolvedSpec["checks"],
  schedules: [],
});

const inst = (service: string): Instance => ({
  id: `${service}-1`,
  project: "p",
  env: "dev",
  service,
  revision: 1,
  version: "v1",
  slot: "stable",
  index: 0,
  state: "running",
  startedAt: "",
  restarts: 0,
});

describe("plan", () => {
  const s = spec([
    svc("web", { dependsOn: ["api"], port: 8080 }),
    svc("api", { dependsOn: ["db"], port: 8081 }),
    svc("db", {
      stateful: true,
      rollout: { strategy: "recreate", steps: [], sticky: false, drainTimeout: 0, keepWarm: 0 },
    }),
    svc("worker", { dependsOn: ["db"] }),
  ]);

  it("orders services in dependency layers, parallel within a layer", () => {
    expect(dependencyLayers(s.services)).toEqual([["db"], ["api", "worker"], ["web"]]);
    const p = plan({ spec: s, nextRevision: 1, live: [] });
    const rollouts = p.steps.filter((x) => x.kind === "rollout");
    expect(rollouts.map((x) => x.service)).toEqual(["db", "api", "worker", "web"]);
    expect(rollouts[1].group).toBe(rollouts[2].group);
    expect(rollouts[0].group).toBeLessThan(rollouts[1].group);
    expect(rollouts[3].group).toBeGreaterThan(rollouts[2].group);
    expect(p.steps.at(-1)?.kind).toBe("finalize");
    expect(p.steps.map((x) => x.seq)).toEqual(p.steps.map((_, i) => i + 1));
  });

  it("is pure data: the same input gives the same plan", () => {
    const a = plan({ spec: s, nextRevision: 3, live: [inst("api")] });
    const b = plan({ spec: s, nextRevision: 3, live: [inst("api")] });
    expect(JSON.parse(JSON.stringify(a))).toEqual(b);
    expect(a.steps.find((x) => x.service === "api" && x.kind === "rollout")?.change).toBe("update");
    expect(a.steps.find((x) => x.service === "web" && x.kind === "rollout")?.change).toBe("create");
  });

  it("runs checks first unless skipped, and removes services that left the spec", () => {
    const withChecks = spec([svc("a")], [{ command: "true" }]);
    expect(plan({ spec: withChecks, nextRevision: 1, live: [] }).steps[0].kind).toBe("checks");
    expect(plan({ spec: withChecks, nextRevision: 1, live: [], skipChecks: true }).steps[0].kind).toBe(
      "prepare",
    );
    const p = plan({ spec: withChecks, nextRevision: 2, live: [inst("gone")] });
    expect(p.steps.find((x) => x.kind === "remove")?.service).toBe("gone");
  });

  it("--only limits the rollout and never removes other services", () => {
    const p = plan({ spec: s, nextRevision: 2, live: [inst("web"), inst("old")], only: ["web"] });
    expect(p.steps.filter((x) => x.kind === "rollout").map((x) => x.service)).toEqual(["web"]);
    expect(p.steps.some((x) => x.kind === "remove")).toBe(false);
  });

  it("bakes after the rollouts and before finalize when the spec has analysis metrics, never on rollbacks", () => {
    const analysed = {
      ...spec([svc("web", { port: 8080 })]),
      analysis: {
        interval: 2000,
        bake: 30_000,
        metrics: [{ name: "error-rate", provider: "proxy", query: "errorRate", max: 0.01 }],
      },
    } as unknown as ResolvedSpec;
    const kinds = plan({ spec: analysed, nextRevision: 2, live: [inst("web")] }).steps.map((x) => x.kind);
    expect(kinds.slice(-3)).toEqual(["rollout", "bake", "finalize"]);
    const rb = plan({ spec: analysed, nextRevision: 3, live: [inst("web")], rollbackOf: 1 });
    expect(rb.steps.some((x) => x.kind === "bake")).toBe(false);
    expect(
      plan({ spec: spec([svc("web")]), nextRevision: 1, live: [] }).steps.some((x) => x.kind === "bake"),
    ).toBe(false);
  });

  it("migrates each layer's services after the earlier layers' rollouts (a dependency may be new)", () => {
    const migrating = spec([
      svc("db"),
      svc("api", { dependsOn: ["db"], migrate: { up: "migrate up" } as ResolvedService["migrate"] }),
    ]);
    const steps = plan({ spec: migrating, nextRevision: 1, live: [] }).steps;
    const group = (kind: string, service: string) =>
      steps.find((x) => x.kind === kind && x.service === service)?.group ?? -1;
    expect(group("rollout", "db")).toBeLessThan(group("migrate", "api"));
    expect(group("migrate", "api")).toBeLessThan(group("rollout", "api"));
  });

  it("backs up running `before: deploy` services first and records the release they replace", () => {
    const backup = {
      type: "postgres",
      url: "postgres://x/db",
      before: "deploy",
    } as ResolvedService["backup"];
    const backed = spec([svc("db", { backup }), svc("api")]);
    const current = { number: 4, version: "v4" } as Revision;
    const p = plan({ spec: backed, nextRevision: 5, live: [inst("db"), inst("api")], current });
    const first = p.steps.filter((x) => x.group === 0);
    expect(first.map((x) => [x.kind, x.service, x.description])).toEqual([
      ["backup", "db", "back up db"],
      ["backup", undefined, "record release r4 (spec and images)"],
    ]);
    expect(p.steps.filter((x) => x.kind === "backup" && x.group > 0)).toEqual([]);
    // A first deploy has nothing running to back up and no release to record.
    expect(plan({ spec: backed, nextRevision: 1, live: [] }).steps.some((x) => x.kind === "backup")).toBe(
      false,
    );
    // Without `before: deploy` no release is recorded either.
    const plain = plan({ spec: spec([svc("api")]), nextRevision: 5, live: [inst("api")], current });
    expect(plain.steps.some((x) => x.kind === "backup")).toBe(false);
  });

  it("a rollback --with-db runs its data steps first, one at a time, before the code", () => {
    const current = { number: 3, version: "v3" } as Revision;
    const p = plan({
      spec: spec([svc("db"), svc("api")]),
      nextRevision: 4,
      live: [inst("db"), inst("api")],
      current,
      rollbackOf: 1,
      skipChecks: true,
      data: [
        { revision: 3, version: "v3", service: "api", action: "down" },
        {
          revision: 2,
          version: "v2",
          service: "api",
          action: "restore",
          backupId: "db-1",
          backupService: "db",
        },
      ],
    });
    expect(p.steps.slice(0, 2).map((x) => [x.seq, x.kind, x.service, x.group, x.description])).toEqual([
      [1, "migrate-down", "api", 0, "migrate api down (undo revision 3, v3)"],
      [2, "restore", "db", 1, "restore db from db-1 (taken before revision 2 deployed)"],
    ]);
    expect(p.steps.slice(2).every((x) => x.group > 1 && x.kind !== "restore")).toBe(true);
    expect(p.steps[1].data).toMatchObject({ backupId: "db-1", revision: 2 });
    // Without data steps a rollback plan starts with the code.
    const codeOnly = plan({ spec: spec([svc("api")]), nextRevision: 4, live: [], current, rollbackOf: 1 });
    expect(codeOnly.steps[0].kind).toBe("prepare");
  });

  it("a rollback --with-db backs up a `before: deploy` service before its data steps change it", () => {
    const backup = {
      type: "postgres",
      url: "postgres://x/db",
      before: "deploy",
    } as ResolvedService["backup"];
    const p = plan({
      spec: spec([svc("db", { backup }), svc("api")]),
      nextRevision: 4,
      live: [inst("db"), inst("api")],
      current: { number: 3, version: "v3" } as Revision,
      rollbackOf: 1,
      skipChecks: true,
      data: [{ revision: 2, version: "v2", service: "db", action: "restore", backupId: "db-1" }],
    });
    expect(p.steps.slice(0, 3).map((x) => [x.kind, x.service, x.group])).toEqual([
      ["backup", "db", 0],
      ["backup", undefined, 0],
      ["restore", "db", 1],
    ]);
  });
});
