import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SpecError } from "../errors.js";
import { parseSpecText } from "./load.js";
import { resolveSpec } from "./resolve.js";
import { servicesOfGroups } from "./groups.js";

function resolve(rest: string) {
  const dir = mkdtempSync(join(tmpdir(), "slipway-groups-"));
  mkdirSync(join(dir, "app"));
  const yaml = `project: g
environments: { development: { target: process } }
services:
  db: { run: "sleep 1", path: ./app }
  tools: { run: "sleep 1", path: ./app, dependsOn: [db] }
  web: { run: "sleep 1", path: ./app, dependsOn: [tools] }
${rest}`;
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, yaml);
  return resolveSpec(parseSpecText(yaml, file), { env: "development", vars: {} }).spec;
}

function issues(rest: string): string[] {
  try {
    resolve(rest);
  } catch (e) {
    if (e instanceof SpecError) return e.issues.map((i) => `${i.line}: ${i.message}`);
    throw e;
  }
  return [];
}

describe("groups", () => {
  it("orders groups as listed; ungrouped services are `default`, last", () => {
    const spec = resolve(
      "groups: [{ name: libraries, members: [db], description: cluster services }, tools]\n",
    );
    expect(spec.groups).toEqual([
      { name: "libraries", description: "cluster services" },
      { name: "tools" },
      { name: "default" },
    ]);
    expect(spec.services.db.group).toBe("libraries");
    expect(spec.services.web.group).toBe("default");
    const order = ["libraries", "tools", "default"];
    expect(servicesOfGroups(spec.services, order, { skipGroups: ["libraries"] })).toEqual({
      services: ["tools", "web"],
    });
    expect(servicesOfGroups(spec.services, order, { groups: ["librarys"] }).problem).toMatch(
      /no group "librarys" \(did you mean "libraries"\?\)/,
    );
  });

  it("without groups nothing is set", () => {
    const spec = resolve("");
    expect(spec.groups).toBeUndefined();
    expect(spec.services.db.group).toBeUndefined();
  });

  it("refuses a dependency on a later group, unknown members and contradictions, located", () => {
    expect(issues("groups: [apps, { name: libraries, members: [db, nope] }]\n")).toContainEqual(
      expect.stringMatching(/^7: no service "nope"/),
    );
    const later = issues(
      "groups: [{ name: apps, members: [web, tools] }, { name: libraries, members: [db] }]\n",
    );
    expect(later).toEqual([
      expect.stringMatching(/^5: tools \(group apps\) depends on db of the later group libraries/),
    ]);
    expect(issues("groups: [{ name: apps, members: [db] }]\n".replace("apps", "libraries")).length).toBe(0);
  });
});
