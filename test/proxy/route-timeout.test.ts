/** rollout.responseTimeout flows from slipway.yaml into the route the proxy enforces. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildRoute } from "../../src/engine/strategies/common.js";
import { parseRoute } from "../../src/proxy/routes.js";
import { parseSpecText } from "../../src/spec/load.js";
import { resolveSpec } from "../../src/spec/resolve.js";
import { SpecError } from "../../src/errors.js";

function resolve(rollout: string) {
  const dir = mkdtempSync(join(tmpdir(), "slipway-timeout-"));
  const yaml = `project: t
environments: { development: { target: process } }
services:
  api: { run: node app.js, port: 3000${rollout} }
  reports: { run: node app.js, port: 3001, rollout: { responseTimeout: 5m } }
`;
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, yaml);
  return resolveSpec(parseSpecText(yaml, file), { env: "development" }).spec;
}
const inst = { id: "api-1", port: 41000 } as Parameters<typeof buildRoute>[2][number];

describe("rollout.responseTimeout", () => {
  it("sets the route's responseTimeoutMs (default 60 s), and the proxy accepts the route", () => {
    const spec = resolve(", rollout: { responseTimeout: 2500ms }");
    const api = buildRoute(spec, spec.services.api!, [inst]);
    expect(api.responseTimeoutMs).toBe(2500);
    expect("route" in parseRoute(api)).toBe(true);
    expect(buildRoute(spec, spec.services.reports!, [inst]).responseTimeoutMs).toBe(300_000);
    const dflt = resolve("");
    expect(buildRoute(dflt, dflt.services.api!, [inst]).responseTimeoutMs).toBe(60_000);
    // A snapshot of a revision deployed before the setting existed.
    const { responseTimeout: _, ...old } = dflt.services.api!.rollout;
    expect(buildRoute(dflt, { ...dflt.services.api!, rollout: old }, [inst]).responseTimeoutMs).toBe(60_000);
  });

  it("refuses a zero timeout with the field's path", () => {
    let err: unknown;
    try {
      resolve(", rollout: { responseTimeout: 0s }");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).issues.map((i) => `${i.path}: ${i.message}`)).toContain(
      "services.api.rollout.responseTimeout: must be at least 1ms",
    );
  });
});
