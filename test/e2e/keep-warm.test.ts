/** Keep-warm: after a promotion the previous slot keeps running; a rollback inside the window is a switch. */
import { afterEach, describe, expect, it } from "vitest";
import { appProcesses, makeProject, waitFor, type Project } from "./harness.js";

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

interface Inst {
  id: string;
  version: string;
  slot: string;
  pid?: number;
  warmUntil?: string;
}
interface StatusJson {
  result: { services: { name: string; status: string; instances: Inst[] }[] };
}

describe("keep-warm", () => {
  it("a rollback inside the window switches back to the warm instances without starting any", async () => {
    const p = (project = await makeProject());
    const env = { KEEP_WARM: "5m" };
    expect(p.cli(["deploy", "development", "--version", "v1"], { env }).code).toBe(0);
    const before = p.cli(["status", "development", "--json"], { env }).json<StatusJson>().result;
    const apiV1 = before.services.find((s) => s.name === "api")!.instances[0];
    expect(p.cli(["deploy", "development", "--version", "v2"], { env }).code).toBe(0);
    expect((await p.get("api")).body).toBe("v2");

    const mid = p.cli(["status", "development", "--json"], { env }).json<StatusJson>().result;
    const api = mid.services.find((s) => s.name === "api")!;
    expect(api.status).toBe("running");
    const warm = api.instances.filter((i) => i.slot === "warm");
    expect(warm.map((i) => [i.id, i.version])).toEqual([[apiV1.id, "v1"]]);
    // web and api keep a warm slot; the worker (no port) does not.
    expect(appProcesses(p.dir).length).toBe(5);

    const rb = p.cli(["rollback", "development"], { env });
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stderr).toContain("switching back to 1 warm instance(s) of v1");
    expect((await p.get("api")).body).toBe("v1");
    const after = p.cli(["status", "development", "--json"], { env }).json<StatusJson>().result;
    const serving = after.services.find((s) => s.name === "api")!.instances.filter((i) => i.slot !== "warm");
    // The very same instance (same id, same process) serves again.
    expect(serving.map((i) => [i.id, i.pid])).toEqual([[apiV1.id, apiV1.pid]]);
    // v2 is now the warm one: a roll-forward is a switch too.
    expect(
      after.services
        .find((s) => s.name === "api")!
        .instances.filter((i) => i.slot === "warm")
        .map((i) => i.version),
    ).toEqual(["v2"]);
  });

  it("the daemon stops warm instances when the window is over", async () => {
    const p = (project = await makeProject());
    const env = { KEEP_WARM: "1s" };
    expect(p.cli(["deploy", "development", "--version", "v1"], { env }).code).toBe(0);
    expect(p.cli(["deploy", "development", "--version", "v2"], { env }).code).toBe(0);
    await waitFor(() => appProcesses(p.dir).length === 3, {
      what: "warm instances reaped",
      timeoutMs: 20_000,
    });
    const st = p.cli(["status", "development", "--json"], { env }).json<StatusJson>().result;
    expect(st.services.flatMap((s) => s.instances.map((i) => i.slot))).toEqual([
      "stable",
      "stable",
      "stable",
    ]);
    // After the window a rollback starts the old release again.
    const rb = p.cli(["rollback", "development"], { env });
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stderr).not.toContain("warm instance");
    expect((await p.get("api")).body).toBe("v1");
  });
});
