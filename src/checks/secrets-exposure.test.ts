/** A protected Docker environment whose secrets go as env is warned about, naming the fix. */
import { describe, expect, it } from "vitest";
import { createCheckRunner } from "./engine-adapter.js";

const run = (spec: Record<string, unknown>) =>
  createCheckRunner({ vars: {} })(
    { dir: "/tmp", checks: [], ...spec } as Parameters<ReturnType<typeof createCheckRunner>>[0],
    () => {},
  );

const api = (as?: "env" | "files") => ({
  api: { name: "api", secretEnv: ["DB_PASSWORD", "JWT_SECRET"], ...(as ? { secrets: { as } } : {}) },
});

describe("secrets visible to docker inspect", () => {
  it("warns for a protected Docker environment whose secrets go as env, naming secrets: { as: files }", async () => {
    const r = await run({
      env: "production",
      target: { kind: "docker" },
      protect: { confirm: true },
      services: api(),
    });
    expect(r.ok).toBe(true); // a warning does not stop a deploy
    expect(r.results).toEqual([
      expect.objectContaining({ status: "warning", name: "secrets out of docker inspect" }),
    ]);
    expect(r.results[0].evidence).toContain("api (DB_PASSWORD, JWT_SECRET)");
    expect(r.results[0].evidence).toContain("services.api.secrets: { as: files }");
  });

  it("is silent with secrets as files, on an unprotected environment, and off Docker", async () => {
    const docker = { kind: "docker" };
    const protect = { confirm: true };
    for (const spec of [
      { target: docker, protect, services: api("files") },
      { target: docker, services: api() },
      { target: { kind: "process" }, protect, services: api() },
    ])
      expect((await run(spec)).results).toEqual([]);
  });
});
