import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import { Refused } from "../../errors.js";
import { withCallerKubeconfig, withKubeconfigPath } from "../../spec/kubeconfig-path.js";
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
  it("refuses (exit 4) a kubeconfig that does not exist when one is named or a context is, naming the path", () => {
    const missing = join(dir, "missing");
    for (const [target, env] of [
      [{ kubeconfig: missing }, {}],
      [{}, { KUBECONFIG: missing }],
      [{ context: "prod-ctx" }, { KUBECONFIG: missing }],
    ] as const)
      expect(() => checkKubeContext(target, env)).toThrow(
        new Refused(
          `no kubeconfig at ${missing} (target.kubeconfig, else $KUBECONFIG, else ~/.kube/config): ` +
            "the cluster cannot be checked against the spec; nothing was sent",
        ),
      );
    // A list skips the missing files, as kubectl does; the target's kubeconfig can be a list too.
    const list = [missing, prod].join(delimiter);
    expect(() => checkKubeContext({ cluster: "prod-eu-1" }, { KUBECONFIG: list })).not.toThrow();
    expect(() => checkKubeContext({ cluster: "prod-eu-1", kubeconfig: list })).not.toThrow();
    expect(() => checkKubeContext({ cluster: "stage-1", kubeconfig: list })).toThrow(/"prod-eu-1"/);
  });

  it("the CLI pins the caller's kubeconfig on the target it sends (absolute); a spec's is relative to its file", () => {
    const k8s: { kind: string; namespace: string; kubeconfig?: string } = {
      kind: "kubernetes",
      namespace: "ns",
    };
    const prev = process.env.KUBECONFIG;
    process.env.KUBECONFIG = `kc-a${delimiter}/etc/kc-b`;
    try {
      expect(withCallerKubeconfig(k8s).kubeconfig).toBe(
        [join(process.cwd(), "kc-a"), "/etc/kc-b"].join(delimiter),
      );
    } finally {
      if (prev === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = prev;
    }
    expect(withCallerKubeconfig({ ...k8s, kubeconfig: "/x" }).kubeconfig).toBe("/x");
    expect(withCallerKubeconfig({ kind: "docker" })).toEqual({ kind: "docker" });
    expect(withKubeconfigPath({ ...k8s, kubeconfig: "ops/kc" }, "/proj").kubeconfig).toBe("/proj/ops/kc");
  });
});
