import { describe, expect, it } from "vitest";
import { parseExposition } from "../analysis/prom-text.js";
import type { Instance } from "../drivers/driver.js";
import { daemonMetrics } from "./metrics.js";

const inst = (project: string, service: string, slot: string, warmUntil?: string) =>
  ({ project, env: "prod", service, slot, warmUntil }) as unknown as Instance;

describe("daemon metrics text", () => {
  it("counts instances by service and slot (warm apart), escapes labels, relays the proxy's series", async () => {
    const text = await daemonMetrics({
      store: {
        allInstances: async () => [
          inst("shop", "api", "stable"),
          inst("shop", "api", "stable"),
          inst("shop", "api", "stable", "2030-01-01T00:00:00Z"),
          inst('q"t\\x', "web", "candidate"),
        ],
      },
      version: "1.2.3",
      startedAt: "2026-01-01T00:00:00.000Z",
      proxy: async () => '# TYPE slipway_proxy_in_flight gauge\nslipway_proxy_in_flight{target="a"} 3\n',
    });
    expect(text).toContain("# TYPE slipway_instances gauge\n");
    expect(text).toMatch(/^slipway_daemon_info\{version="1\.2\.3"\} 1$/m);
    expect(text).toContain(
      'slipway_instances{project="q\\"t\\\\x",env="prod",service="web",slot="candidate"} 1',
    );
    const samples = parseExposition(text).map((s) => [s.name, s.labels, s.value]);
    expect(samples).toEqual([
      ["slipway_daemon_info", { version: "1.2.3" }, 1],
      ["slipway_daemon_start_time_seconds", {}, 1767225600],
      ["slipway_instances", { project: 'q"t\\x', env: "prod", service: "web", slot: "candidate" }, 1],
      ["slipway_instances", { project: "shop", env: "prod", service: "api", slot: "stable" }, 2],
      ["slipway_instances", { project: "shop", env: "prod", service: "api", slot: "warm" }, 1],
      ["slipway_proxy_up", {}, 1],
      ["slipway_proxy_in_flight", { target: "a" }, 3],
    ]);
  });

  it("reports the proxy down when its socket fails", async () => {
    const text = await daemonMetrics({
      store: { allInstances: async () => [] },
      version: "1",
      startedAt: new Date().toISOString(),
      proxy: async () => {
        throw new Error("ECONNREFUSED");
      },
    });
    expect(text).toMatch(/^slipway_proxy_up 0$/m);
    expect(text).toContain("# TYPE slipway_instances gauge");
  });
});
