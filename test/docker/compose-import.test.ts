/** Compose import of a Compose file shaped like the GPU stack of seed 000 (no engine needed). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  composeDuration,
  composeSize,
  convertInterpolation,
  importCompose,
} from "../../src/compose/import.js";
import { SpecError } from "../../src/errors.js";
import { specSchema } from "../../src/spec/schema.js";

const file = fileURLToPath(new URL("./fixtures/gpu-stack.compose.yml", import.meta.url));

describe("importCompose", () => {
  const { yaml, unmapped } = importCompose(readFileSync(file, "utf8"), file);
  const spec = specSchema.parse(parse(yaml));

  it("writes a slipway.yaml that validates, with the GPU stack's services", () => {
    expect(spec.project).toBe("ai-platform");
    expect(spec.environments.development?.target).toEqual({ kind: "docker" });
    expect(Object.keys(spec.services)).toEqual([
      "llm-server",
      "vector-db",
      "api-server",
      "mariadb",
      "elasticsearch",
      "redis",
    ]);
  });

  it("maps GPUs, memory and cpu limits", () => {
    const s = spec.services;
    expect(s["llm-server"]?.resources).toEqual({ memory: 64 * 1024 ** 3, gpus: { devices: [0, 1] } });
    expect(s["vector-db"]?.resources).toEqual({ memory: 32 * 1024 ** 3, cpus: 8, gpus: { count: 1 } });
    expect(s["api-server"]?.resources).toEqual({ memory: 16 * 1024 ** 3, cpus: 4, gpus: { devices: [3] } });
    expect(s.mariadb?.resources).toEqual({ memory: 64 * 1024 ** 3 });
    expect(s.redis?.resources).toEqual({ memory: 16 * 1024 ** 3 });
    expect(s.elasticsearch?.resources).toEqual({ memory: 32 * 1024 ** 3 });
  });

  it("maps image, build, command, ports, env, env files, volumes, depends_on, health, restart", () => {
    const llm = spec.services["llm-server"];
    expect(llm).toMatchObject({
      image: "registry.local/llm-server:${VERSION:-1.4.0}",
      command: ["python", "-m", "server", "--port", "8000"],
      port: 8000,
      containerPort: 8000,
      env: { MODEL_PATH: "/models/llama", HF_TOKEN: "${HF_TOKEN}" },
      volumes: ["models:/models:ro"],
      health: {
        http: "/health",
        interval: 30_000,
        timeout: 10_000,
        unhealthyThreshold: 3,
        startPeriod: 120_000,
      },
      restart: { policy: "always" },
    });
    const api = spec.services["api-server"];
    expect(api).toMatchObject({
      build: { context: "./api", dockerfile: "Dockerfile.prod", args: { NODE_ENV: "production" } },
      port: 3000,
      containerPort: 3000,
      replicas: 2,
      envFile: [".env.production"],
      env: { DATABASE_URL: "mysql://app:${DB_PASSWORD}@mariadb:3306/app", REDIS_URL: "redis://redis:6379" },
      dependsOn: ["mariadb", "redis", "llm-server"],
      health: { http: "/api/health", interval: 15_000 },
      restart: { policy: "on-failure" },
    });
    expect(spec.services.mariadb).toMatchObject({
      stateful: true,
      env: { MARIADB_ROOT_PASSWORD: "${DB_ROOT_PASSWORD:?set it}" },
      volumes: ["dbdata:/var/lib/mysql", "./initdb:/docker-entrypoint-initdb.d:ro"],
      health: { exec: "mariadb-admin ping -h 127.0.0.1 -p$MARIADB_ROOT_PASSWORD" },
      stop: { grace: 90_000 },
    });
    expect(spec.services["vector-db"]).toMatchObject({
      stateful: true,
      volumes: ["vectors:/qdrant/storage"],
    });
    expect(spec.services.redis).toMatchObject({
      stateful: true,
      command: "redis-server --maxmemory 12gb --appendonly yes",
      health: { exec: "redis-cli ping", interval: 5000 },
    });
    expect(spec.services["llm-server"]?.stateful).toBeUndefined();
  });

  it("lists what it cannot map, and says so in the file", () => {
    const expected = [
      "version: obsolete in Compose, not needed",
      "volumes.models: options (external) not mapped",
      "networks: Slipway uses one network per project and environment",
      "secrets.hf_token: used by no service, not mapped",
      "services.api-server.build.cache_from: no equivalent",
      'services.api-server.ports[1]: "9229:9229": Slipway routes one port per service',
      "services.api-server.deploy.update_config",
      "services.api-server.networks",
      "services.api-server.logging: no equivalent",
      "services.api-server.restart: maximum retries (5)",
      'services.mariadb.volumes[2]: "/tmp/scratch": anonymous volumes are not kept',
      "services.mariadb.ulimits: no equivalent",
      "services.redis.x-owner: extension field",
    ];
    for (const e of expected)
      expect(
        unmapped.find((u) => u.startsWith(e)),
        e,
      ).toBeDefined();
    expect(unmapped).toHaveLength(expected.length);
    expect(yaml).toContain("# Not mapped from the Compose file:");
    expect(yaml).toContain("#   - services.mariadb.ulimits: no equivalent");
  });

  it("refuses what is not a Compose file, naming the file", () => {
    expect(() => importCompose("just: text", "/x/compose.yml")).toThrow(SpecError);
    expect(() => importCompose("services: [", "/x/compose.yml")).toThrow(/compose.yml: not valid YAML/);
  });

  it("converts Compose units and interpolation", () => {
    expect(composeSize("512m")).toBe("512Mi");
    expect(composeSize("1gb")).toBe("1Gi");
    expect(composeSize(1048576)).toBe(1048576);
    expect(composeDuration("1m30s")).toBe("90s");
    expect(composeDuration("1500ms")).toBe("1500ms");
    expect(convertInterpolation("$HOME/$${x} $$5 ${A:-b}")).toBe("${HOME}/$${x} $5 ${A:-b}");
  });
});
