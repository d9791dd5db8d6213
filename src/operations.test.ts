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
});
