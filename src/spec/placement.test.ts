/** Multi-host placement in resolve(): replicas per host, stateful on one host, clear errors. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SpecError } from "../errors.js";
import { parseSpecText } from "./load.js";
import { resolveSpec } from "./resolve.js";

function resolve(target: string, services: string) {
  const dir = mkdtempSync(join(tmpdir(), "slipway-placement-"));
  const yaml = `project: p\nenvironments:\n  prod:\n    target: ${target}\nservices:\n${services}`;
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, yaml);
  return { dir, r: () => resolveSpec(parseSpecText(yaml, file), { env: "prod", vars: {} }) };
}

const TWO = `{ kind: docker, hosts: [deploy@10.0.0.5, { ssh: "deploy@10.0.0.6:2222", publish: 10.0.0.6, name: gpu }], ssh: { key: keys/id, knownHosts: ~/kh } }`;

const error = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpecError) return e.message;
    throw e;
  }
  throw new Error("no SpecError");
};

describe("placement", () => {
  it("every host runs replicas; stateful runs on the first host or the named one", () => {
    const { r, dir } = resolve(
      TWO,
      `  web: { image: a, replicas: 2 }
  db: { image: b, stateful: true }
  llm: { image: c, placement: { hosts: [gpu] } }
  cache: { image: d, stateful: true, placement: { hosts: [gpu] } }
`,
    );
    const s = r().spec;
    const got = Object.values(s.services).map((x) => [x.name, x.replicas, x.placement]);
    expect(got).toEqual([
      ["web", 4, ["deploy@10.0.0.5", "deploy@10.0.0.6:2222"]],
      ["db", 1, ["deploy@10.0.0.5"]],
      ["llm", 1, ["deploy@10.0.0.6:2222"]],
      ["cache", 1, ["deploy@10.0.0.6:2222"]],
    ]);
    expect(s.target).toMatchObject({ ssh: { key: join(dir, "keys/id") } });
    expect((s.target as { ssh: { knownHosts: string } }).ssh.knownHosts).toMatch(/^\/.*\/kh$/);
  });

  it("names the field and the hosts when placement is wrong", () => {
    expect(error(resolve(TWO, "  web: { image: a, placement: { hosts: [nope] } }\n").r)).toMatch(
      /services\.web\.placement\.hosts: "nope" is not a host of this environment \(hosts: deploy@10\.0\.0\.5, gpu\)/,
    );
    expect(
      error(
        resolve(TWO, "  db: { image: a, stateful: true, placement: { hosts: [deploy@10.0.0.5, gpu] } }\n").r,
      ),
    ).toMatch(/services\.db\.placement\.hosts: a stateful service runs on one host/);
    expect(error(resolve("docker", "  web: { image: a, placement: { hosts: [x] } }\n").r)).toMatch(
      /services\.web\.placement: placement needs a docker target with `hosts`/,
    );
  });

  it("a target without hosts leaves replicas and placement alone", () => {
    const s = resolve("docker", "  web: { image: a, replicas: 3 }\n").r().spec;
    expect(s.services.web?.replicas).toBe(3);
    expect(s.services.web?.placement).toBeUndefined();
  });
});
