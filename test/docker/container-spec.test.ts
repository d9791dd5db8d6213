/** The pure part of the Docker driver: create options from a request (no engine needed). */
import { describe, expect, it } from "vitest";
import {
  createOptions,
  parseVolume,
  publishes,
  shellWords,
} from "../../src/drivers/docker/container-spec.js";
import { containerName, sanitize } from "../../src/drivers/docker/names.js";
import { request, service } from "./helpers.js";

const artifact = { service: "api", revision: 7, ref: "slipway/p-prod-api:r7" };
const ctx = { network: "slipway-p-prod", publishAddress: "127.0.0.1" };

describe("container spec", () => {
  it("splits command strings like a shell, without expansion", () => {
    expect(shellWords(`node server.js --name "a b" 'c d' e\\ f $HOME`)).toEqual([
      "node",
      "server.js",
      "--name",
      "a b",
      "c d",
      "e f",
      "$HOME",
    ]);
    expect(shellWords(`x ""`)).toEqual(["x", ""]);
    expect(() => shellWords(`echo "oops`)).toThrow(/unterminated/);
  });

  it("parses named and bind volumes", () => {
    expect(parseVolume("pgdata:/var/lib/postgresql/data", "/srv/app", "p", "prod")).toEqual({
      kind: "named",
      source: "p-prod-pgdata",
      target: "/var/lib/postgresql/data",
      readOnly: false,
    });
    expect(parseVolume("./conf:/etc/app:ro", "/srv/app", "p", "prod")).toEqual({
      kind: "bind",
      source: "/srv/app/conf",
      target: "/etc/app",
      readOnly: true,
    });
    expect(() => parseVolume("/data", "/srv/app", "p", "prod")).toThrow(/not name:\/path/);
  });

  it("publishes stateful services only when they have a public port", () => {
    expect(publishes(service("db", { stateful: true, containerPort: 5432 }))).toBe(false);
    expect(publishes(service("db", { stateful: true, port: 5432 }))).toBe(true);
    expect(publishes(service("worker"))).toBe(false);
    expect(publishes(service("api", { containerPort: 3000 }))).toBe(true);
  });

  it("publishes an unproxied service on its public port, a proxied one on an ephemeral port", () => {
    const bindings = (svc: ReturnType<typeof service>) =>
      createOptions(request("p", svc, artifact), ctx).HostConfig?.PortBindings;
    expect(bindings(service("db", { stateful: true, port: 15432, containerPort: 5432 }))).toEqual({
      "5432/tcp": [{ HostIp: "127.0.0.1", HostPort: "15432" }],
    });
    expect(
      bindings(service("db", { stateful: true, port: 15432, containerPort: 5432, proxy: true })),
    ).toEqual({
      "5432/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }],
    });
    expect(bindings(service("api", { port: 8080, containerPort: 3000 }))).toEqual({
      "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }],
    });
  });

  it("builds labels, env, limits, restart policy, health and the network alias", () => {
    const svc = service("api", {
      port: 8080,
      containerPort: 3000,
      command: "node server.js",
      restart: {
        policy: "always",
        backoff: 1,
        maxBackoff: 1,
        crashLoop: { restarts: 5, within: 1, rollbackAfter: 0 },
      },
      resources: { memory: 512 * 1024 * 1024, cpus: 1.5, gpus: { count: "all" } },
      health: {
        exec: "test -f /tmp/ready",
        interval: 2000,
        timeout: 1000,
        startPeriod: 500,
        startTimeout: 60_000,
        healthyThreshold: 1,
        unhealthyThreshold: 4,
      },
    });
    const o = createOptions(
      request("p", svc, artifact, { slot: "candidate", index: 1, env_vars: { A: "1" } }),
      ctx,
    );
    expect(o.name).toBe("p-test-api-r7-1");
    expect(o.Cmd).toEqual(["node", "server.js"]);
    expect(o.Env).toEqual(
      expect.arrayContaining(["A=1", "PORT=3000", "SLIPWAY_SLOT=candidate", "SLIPWAY_INDEX=1"]),
    );
    expect(o.Labels).toMatchObject({
      "slipway.slot": "candidate",
      "slipway.index": "1",
      "slipway.port": "3000",
    });
    expect(o.HostConfig).toMatchObject({
      Memory: 512 * 1024 * 1024,
      NanoCpus: 1_500_000_000,
      DeviceRequests: [{ Driver: "nvidia", Count: -1, Capabilities: [["gpu"]] }],
      RestartPolicy: { Name: "unless-stopped" },
      PortBindings: { "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
      NetworkMode: "slipway-p-prod",
    });
    expect(o.Healthcheck).toEqual({
      Test: ["CMD-SHELL", "test -f /tmp/ready"],
      Interval: 2e9,
      Timeout: 1e9,
      Retries: 4,
      StartPeriod: 5e8,
    });
    expect(o.NetworkingConfig?.EndpointsConfig?.["slipway-p-prod"]?.Aliases).toEqual(["api"]);
  });

  it("names are what Docker accepts", () => {
    expect(sanitize("My_Env.1")).toBe("my_env.1");
    expect(containerName("shop", "Prod EU", "api", 3, 0)).toBe("shop-prod-eu-api-r3-0");
  });
});
