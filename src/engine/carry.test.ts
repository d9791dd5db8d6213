import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Driver, Instance } from "../drivers/driver.js";
import { resolvedService } from "../spec/defaults.js";
import type { ResolvedService, ResolvedSpec } from "../spec/resolved.js";
import type { Revision } from "../store/store.js";
import { fingerprints, servesIn, unchangedServices } from "./carry.js";
import type { EngineDeps } from "./context.js";
import { plan } from "./plan.js";

const svc = (name: string, extra: Partial<ResolvedService> = {}): ResolvedService =>
  resolvedService(name, { run: "node x.js", path: "/tmp", ...extra });

const spec = (services: ResolvedService[], version = "v2"): ResolvedSpec => ({
  project: "p",
  env: "dev",
  file: "/tmp/slipway.yaml",
  dir: "/tmp",
  version,
  target: { kind: "process" },
  proxyHost: "127.0.0.1",
  services: Object.fromEntries(services.map((s) => [s.name, s])),
  checks: [],
  schedules: [],
});

const inst = (service: string, revision: number): Instance => ({
  id: `${service}-${revision}`,
  project: "p",
  env: "dev",
  service,
  revision,
  version: `v${revision}`,
  slot: "stable",
  index: 0,
  state: "running",
  startedAt: "",
  restarts: 0,
});

const rev = (number: number, facts: Record<string, unknown>): Revision => ({
  project: "p",
  env: "dev",
  number,
  version: `v${number}`,
  status: "deployed",
  snapshot: {},
  services: ["web", "cache"],
  actor: "t",
  description: "",
  skipChecks: false,
  createdAt: "",
  facts,
});

const homes: string[] = [];
const newHome = () => {
  const h = mkdtempSync(join(tmpdir(), "slipway-carry-"));
  homes.push(h);
  return h;
};
const sharedHome = newHome();
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

/** A driver whose source digest is whatever the test says the code is. */
const deps = (source: Record<string, string | undefined>, home = sharedHome) =>
  ({
    home,
    driver: { sourceDigest: (_p: string, _e: string, s: ResolvedService) => Promise.resolve(source[s.name]) },
  }) as unknown as EngineDeps & { driver: Driver };

describe("unchanged services", () => {
  const services = [svc("web", { env: { RELEASE: "v2" } }), svc("cache", { stateful: true })];

  it("a new label alone changes nothing; a spec or code change, and --force-recreate, do", async () => {
    const v1 = spec([svc("web", { env: { RELEASE: "v1" } }), svc("cache", { stateful: true })], "v1");
    const before = await fingerprints(deps({ web: "a", cache: "c" }), v1, ["web", "cache"]);
    const current = rev(1, { fingerprints: before });
    const live = [inst("web", 1), inst("cache", 1)];
    const s2 = spec(services);
    const now = await fingerprints(deps({ web: "a", cache: "c" }), s2, ["web", "cache"]);
    // web's env holds the label (${VERSION}): changed; the cache's spec does not: kept.
    expect(unchangedServices({ current, fingerprints: now, live, spec: s2 })).toEqual(["cache"]);
    expect(
      unchangedServices({ current, fingerprints: now, live, spec: s2, forceRecreate: ["cache"] }),
    ).toEqual([]);
    expect(unchangedServices({ current, fingerprints: now, live, spec: s2, forceRecreate: true })).toEqual(
      [],
    );
    const codeChanged = await fingerprints(deps({ web: "a", cache: "c2" }), s2, ["web", "cache"]);
    expect(unchangedServices({ current, fingerprints: codeChanged, live, spec: s2 })).toEqual([]);
    // Unknown source (no digest): never kept.
    expect(await fingerprints(deps({ web: "a" }), s2, ["web", "cache"])).not.toHaveProperty("cache");
    // No running instance of the revision it serves with: rolled out again.
    expect(unchangedServices({ current, fingerprints: now, live: [inst("web", 1)], spec: s2 })).toEqual([]);
  });

  it("a fingerprint is keyed by SLIPWAY_HOME's own key: stable there, and no plain hash of the secrets", async () => {
    const secret = svc("web", { env: { PASSWORD: "hunter2" } });
    const s = spec([secret]);
    const [homeA, homeB] = [newHome(), newHome()];
    const a1 = await fingerprints(deps({ web: "src" }, homeA), s, ["web"]);
    const a2 = await fingerprints(deps({ web: "src" }, homeA), s, ["web"]);
    const b = await fingerprints(deps({ web: "src" }, homeB), s, ["web"]);
    expect(a1.web).toMatch(/^[0-9a-f]{64}$/);
    expect(a2.web).toBe(a1.web);
    // Another home (another key): another fingerprint. A plain SHA-256 would be the same
    // everywhere, so anyone with the store could test guesses of the password against it.
    expect(b.web).not.toBe(a1.web);
    const plain = (text: string) => createHash("sha256").update(text).digest("hex");
    expect(a1.web).not.toBe(plain(JSON.stringify(secret)));
    expect(statSync(join(homeA, "fingerprint.key")).mode & 0o777).toBe(0o600);
  });

  it("a kept service's instances belong to the revision that started them", () => {
    const r3 = rev(3, { carried: { cache: 1 } });
    expect(servesIn(r3, inst("cache", 1))).toBe(true);
    expect(servesIn(r3, inst("cache", 3))).toBe(false);
    expect(servesIn(r3, inst("web", 3))).toBe(true);
  });

  it("plan: a kept service is a carry step, with no prepare or migrate", () => {
    const s = spec([
      svc("web", { migrate: { up: "m" } as ResolvedService["migrate"] }),
      svc("cache", { migrate: { up: "m" } as ResolvedService["migrate"] }),
    ]);
    const p = plan({
      spec: s,
      current: rev(1, {}),
      nextRevision: 2,
      live: [inst("web", 1), inst("cache", 1)],
      unchanged: ["cache"],
    });
    const ofCache = p.steps.filter((x) => x.service === "cache");
    expect(ofCache).toEqual([
      expect.objectContaining({ kind: "carry", change: "unchanged", fromRevision: 1 }),
    ]);
    expect(p.steps.filter((x) => x.service === "web").map((x) => x.kind)).toEqual([
      "prepare",
      "migrate",
      "rollout",
    ]);
    // A rollback restores every service.
    const rb = plan({
      spec: s,
      current: rev(1, {}),
      nextRevision: 2,
      live: [],
      unchanged: ["cache"],
      rollbackOf: 1,
    });
    expect(rb.steps.some((x) => x.kind === "carry")).toBe(false);
  });
});
