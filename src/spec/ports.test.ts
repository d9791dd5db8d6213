/** Further ports (`ports:`): normalised, unique in the environment, and only with one instance at a time. */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SpecError } from "../errors.js";
import { parseSpecText } from "./load.js";
import { resolveSpec } from "./resolve.js";

function resolve(services: string) {
  const dir = mkdtempSync(join(tmpdir(), "slipway-ports-"));
  mkdirSync(join(dir, "app"));
  const yaml = `project: shop\nenvironments:\n  development: { target: process }\nservices:\n${services}`;
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, yaml);
  return resolveSpec(parseSpecText(yaml, file), { env: "development", vars: {} }).spec;
}

function messages(services: string): string[] {
  try {
    resolve(services);
  } catch (e) {
    if (e instanceof SpecError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  throw new Error("expected a SpecError");
}

/** Two services whose ports clash in every way the spec can say. */
const CLASHING = `  mq:
    run: ./mq
    path: ./app
    port: 15672
    replicas: 2
    rollout: { strategy: blue-green }
    ports: [5672, { name: p5672, port: 5673 }]
  web:
    run: ./web
    path: ./app
    port: 5672
`;

describe("ports:", () => {
  it("normalises the three forms, names them and makes the service recreate", () => {
    const s = resolve(`  mq:
    run: ./mq
    path: ./app
    port: 15672
    ports: [5672, "25672:4369", { name: amqp-tls, port: 5671 }]
`).services.mq;
    expect(s?.ports).toEqual([
      { name: "p5672", port: 5672, containerPort: 5672 },
      { name: "p25672", port: 25672, containerPort: 4369 },
      { name: "amqp-tls", port: 5671, containerPort: 5671 },
    ]);
    expect(s?.rollout.strategy).toBe("recreate");
  });

  it("refuses blue-green, several instances, ports used twice and bad values, each where it is", () => {
    const m = messages(`${CLASHING}    ports: ["99999"]
`);
    expect(m.join("\n")).toMatch(/services\.web\.ports\.0: ports are 1 to 65535/);
    const again = messages(CLASHING);
    expect(again).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/services\.mq\.rollout\.strategy: blue-green runs two instances at once/),
        expect.stringMatching(/services\.mq\.replicas: 2 instances cannot all bind the further ports/),
        expect.stringMatching(/services\.mq\.ports\.1\.name: port name "p5672" is used twice/),
        expect.stringMatching(
          /services\.web\.port: port 5672 is already used by service "mq" \(ports\[0\]\)/,
        ),
      ]),
    );
  });
});
