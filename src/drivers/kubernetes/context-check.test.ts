import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import { Refused } from "../../errors.js";
import { checkKubeContext, liveKubeContext } from "./context-check.js";

const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
function file(name: string, current: string, contexts: Record<string, string>): string {
  const f = join(dir, name);
  const ctx = Object.entries(contexts).map(
    ([n, c]) => `  - { name: ${n}, context: { cluster: ${c}, user: u } }`,
  );
  writeFileSync(f, [`current-context: ${current}`, "contexts:", ...ctx, ""].join("\n"));
  return f;
}

describe("checkKubeContext (the Kubernetes target's safety check)", () => {
  const prod = file("prod", "prod-ctx", { "prod-ctx": "prod-eu-1", "stage-ctx": "stage-1" });

  it("accepts the named context pointing at the named cluster", () => {
    expect(() =>
      checkKubeContext({ context: "prod-ctx", cluster: "prod-eu-1", kubeconfig: prod }),
    ).not.toThrow();
    // The cluster check alone uses the current context.
    expect(() => checkKubeContext({ cluster: "prod-eu-1", kubeconfig: prod })).not.toThrow();
  });

  it("refuses a context whose cluster is another, naming both", () => {
    const e = (() => {
      try {
        checkKubeContext({ context: "stage-ctx", cluster: "prod-eu-1", kubeconfig: prod });
      } catch (err) {
        return err as Error;
      }
    })();
    expect(e).toBeInstanceOf(Refused);
    expect(e?.message).toMatch(/"stage-1".*"prod-eu-1"/);
  });

  it("refuses a context the kubeconfig does not have", () => {
    expect(() => checkKubeContext({ context: "nope", kubeconfig: prod })).toThrow(
      /no such context.*current: "prod-ctx"/,
    );
  });

  it("merges $KUBECONFIG's files as kubectl does: the first current-context wins", () => {
    const a = file("a", "stage-ctx", { "stage-ctx": "stage-1" });
    const env = { KUBECONFIG: [a, prod].join(delimiter) };
    expect(() => checkKubeContext({ cluster: "prod-eu-1" }, env)).toThrow(Refused);
    expect(() => checkKubeContext({ context: "prod-ctx", cluster: "prod-eu-1" }, env)).not.toThrow();
  });

  it("liveKubeContext: the target's context, else the kubeconfig's current one", () => {
    expect(liveKubeContext({ kubeconfig: prod })).toBe("prod-ctx");
    expect(liveKubeContext({ context: "stage-ctx", kubeconfig: prod })).toBe("stage-ctx");
    expect(liveKubeContext({ kubeconfig: join(dir, "missing") })).toBeUndefined();
  });
});
