import { describe, expect, it } from "vitest";
import { UsageError } from "./errors.js";
import { runOp, type OpPayload } from "./operations.js";
import type { Slipway } from "./slipway.js";
import type { ResolvedSpec } from "./spec/resolved.js";

const spec = { project: "p", env: "e", target: { kind: "process" } } as unknown as ResolvedSpec;
const payload: OpPayload = {
  resolution: { spec, snapshot: spec, secrets: {}, vars: {} },
  args: { probe: false },
};

function fakeSlipway(calls: unknown[]): Slipway {
  const s = {
    notify: undefined,
    actingFor: () => s,
    publish: () => {},
    status: async (sp: ResolvedSpec, o: unknown) => {
      calls.push([sp.project, o]);
      return "status-result";
    },
  };
  return s as unknown as Slipway;
}

describe("runOp", () => {
  it("dispatches through the handler table with the op's arguments", async () => {
    const calls: unknown[] = [];
    expect(await runOp(fakeSlipway(calls), "status", payload, { emit: () => {} })).toBe("status-result");
    expect(calls).toEqual([["p", { probe: false }]]);
  });

  it("refuses unknown operations, Object's own keys included", async () => {
    for (const op of ["nope", "constructor", "toString", "__proto__"])
      await expect(runOp(fakeSlipway([]), op, payload, { emit: () => {} })).rejects.toBeInstanceOf(
        UsageError,
      );
  });

  it("a light reference runs with the values remembered for the same environment only", async () => {
    const seen: Map<string, string>[] = [];
    const light: OpPayload = { resolution: { ...payload.resolution, light: true }, args: {} };
    const s = {
      ...fakeSlipway([]),
      actingFor: () => s,
      deployedResolution: async (sp: ResolvedSpec) => ({
        spec: sp,
        snapshot: sp,
        secrets: new Map(),
        vars: {},
      }),
      restart: async (r: { secrets: Map<string, string> }) => seen.push(r.secrets),
    } as unknown as Slipway;
    const remembered = (env: string) => ({
      spec: { ...spec, env },
      snapshot: spec,
      secrets: new Map([["API_TOKEN", "t0k"]]),
      vars: {},
    });
    await runOp(s, "restart", light, { emit: () => {}, remembered: remembered("e") });
    await runOp(s, "restart", light, { emit: () => {}, remembered: remembered("other") });
    expect(seen.map((m) => m.get("API_TOKEN"))).toEqual(["t0k", undefined]);
  });
});
