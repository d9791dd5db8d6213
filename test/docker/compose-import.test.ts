/**
 * Compose import: a Compose file shaped like the GPU stack of seed 000 (no engine needed), Compose
 * files as people write them, and one imported stack deployed on the real engine.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  composeDuration,
  composeSize,
  convertInterpolation,
  importCompose,
  projectName,
} from "../../src/compose/import.js";
import { SpecError } from "../../src/errors.js";
import { parseSpecText } from "../../src/spec/load.js";
import { rehydrate, resolveSpec, validateAll } from "../../src/spec/resolve.js";
import { specSchema } from "../../src/spec/schema.js";
import { ensureTestImages } from "../support/docker.js";
import { freePort } from "../support/ports.js";
import { dockerStack } from "./stack.js";

const run = promisify(execFile);

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
      "services.api-server.ports: 9229: 2 replicas cannot share one published host port",
      "version: obsolete in Compose, not needed",
      "volumes.models: options (external) not mapped",
      "networks: Slipway uses one network per project and environment",
      "secrets.hf_token: used by no service, not mapped",
      "services.api-server.build.cache_from: no equivalent",
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

  it("publishes further ports directly, and the service then rolls out by recreate", () => {
    expect(spec.services["api-server"]?.ports).toBeUndefined(); // 2 replicas: listed as unmapped
    const { yaml: y, unmapped: u } = importCompose(
      `services:
  mq:
    image: rabbitmq:3-management
    ports: ["15672:15672", "5672:5672", "4369", "25672:25672/udp"]
`,
      "/x/compose.yml",
    );
    const mq = specSchema.parse(parse(y)).services.mq;
    expect(mq?.port).toBe(15672);
    expect(mq?.ports).toEqual([{ port: 5672 }]);
    expect(mq?.stateful).toBe(true);
    expect(u).toContain(
      'services.mq.ports[2]: "4369": not published; other services reach it on the project network by name',
    );
    expect(u.find((x) => x.startsWith("services.mq.ports[3]"))).toMatch(/only TCP/);
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

  it("keeps a published port or an image given as ${VAR:-default} (not a port range)", () => {
    const compose = [
      "services:",
      "  api: { image: api:1, ports: ['${API_PORT:-5000}:5000', '127.0.0.1:${METRICS_PORT:-8000}:8000'] }",
      "  db: { image: '${POSTGRES_IMAGE:-postgres:15-alpine}', ports: ['${DB_PORT:-5432}:5432'] }",
      "  bad: { image: x:1, ports: ['8000-8010:80'] }",
      "",
    ].join("\n");
    const r = importCompose(compose, "/tmp/p/compose.yml");
    const s = parse(r.yaml) as { services: Record<string, Record<string, unknown>> };
    expect(s.services.api).toMatchObject({ port: "${API_PORT:-5000}", containerPort: 5000 });
    expect(s.services.api?.ports).toEqual([{ port: "${METRICS_PORT:-8000}", containerPort: 8000 }]);
    expect(s.services.db).toMatchObject({ port: "${DB_PORT:-5432}", stateful: true });
    expect(r.unmapped).toEqual([`services.bad.ports[0]: "8000-8010:80": port ranges are not supported`]);
  });
});

/**
 * Compose files as people write them (issue 13 §9): a Postgres whose password is a file-based
 * secret read through POSTGRES_PASSWORD_FILE, a user:, a named project, depends_on
 * service_healthy, and a healthcheck that reads a variable.
 */
const SHOP = `name: Shop Stack
services:
  db:
    image: postgres:16-alpine
    user: "999:999"
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD_FILE: /run/secrets/db-password
    secrets: [db-password]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U $POSTGRES_USER"]
      interval: 5s
    volumes: [dbdata:/var/lib/postgresql/data]
  api:
    image: shop/api:1.0
    ports: ["8080:8080"]
    user: node
    environment:
      DATABASE_HOST: db
    secrets:
      - source: api-key
        target: api_key
        uid: "1000"
      - db-password
    depends_on:
      db: { condition: service_healthy }
secrets:
  db-password: { file: ./secrets/db_password.txt }
  api-key: { environment: API_KEY }
volumes:
  dbdata:
`;

describe("importCompose: secrets, user, project name, depends_on", () => {
  const { yaml, unmapped } = importCompose(SHOP, "/srv/shop/compose.yaml");
  const spec = specSchema.parse(parse(yaml));

  it("names the project after the Compose project (name:, else the directory, never 'service')", () => {
    expect(spec.project).toBe("shop-stack");
    const noName = SHOP.replace("name: Shop Stack\n", "");
    expect(specSchema.parse(parse(importCompose(noName, "/srv/My Shop/compose.yaml").yaml)).project).toBe(
      "my-shop",
    );
    expect(projectName(undefined, "compose.yml")).toBe(
      projectName(undefined, join(process.cwd(), "compose.yml")),
    );
    expect(projectName(undefined, "compose.yml")).not.toBe("service");
  });

  it("maps file-based secrets onto secrets as files, keyed by the X_FILE variable that reads them", () => {
    expect(spec.services.db?.secrets).toEqual({
      as: "files",
      names: ["POSTGRES_PASSWORD"],
      fromFile: { POSTGRES_PASSWORD: "./secrets/db_password.txt" },
      uid: 999,
      gid: 999,
    });
    // Slipway sets POSTGRES_PASSWORD_FILE=/run/secrets/POSTGRES_PASSWORD itself.
    expect(spec.services.db?.env).toEqual({ POSTGRES_USER: "shop" });
    expect(spec.services.api?.secrets).toEqual({
      as: "files",
      names: ["api_key", "DB_PASSWORD"],
      fromFile: { DB_PASSWORD: "./secrets/db_password.txt" },
      uid: 1000,
    });
    expect(spec.services.api?.env).toEqual({ DATABASE_HOST: "db", api_key: "${API_KEY}" });
    expect(unmapped).toContainEqual(
      expect.stringMatching(/^services\.api\.secrets\[1\]: "db-password" is at \/run\/secrets\/DB_PASSWORD/),
    );
  });

  it("maps user:, depends_on service_healthy, and a healthcheck's variable through the env", () => {
    expect(spec.services.db?.user).toBe("999:999");
    expect(spec.services.api?.user).toBe("node");
    expect(spec.services.api?.dependsOn).toEqual(["db"]);
    expect(spec.services.db?.health?.exec).toBe('pg_isready -U "$POSTGRES_USER"');
    // Compose would have read $POSTGRES_USER from the shell; the container's own is what was meant.
    expect(unmapped).toEqual([
      "services.db.healthcheck.test: $POSTGRES_USER: Compose reads it from your shell, the container has its own POSTGRES_USER",
      expect.stringMatching(/^services\.api\.secrets\[1\]: "db-password"/),
    ]);
  });

  it("validates and resolves: the secret is read from the file at deploy time and never stored", () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-compose-"));
    const file = join(dir, "slipway.yaml");
    writeFileSync(file, yaml);
    const loaded = parseSpecText(yaml, file);
    expect(validateAll(loaded, {})).toEqual(["development"]); // the file need not exist to validate
    expect(() => resolveSpec(loaded, { env: "development", vars: { API_KEY: "k" } })).toThrow(
      /secrets\.fromFile\.POSTGRES_PASSWORD: secret file not found or unreadable/,
    );
    mkdirSync(join(dir, "secrets"));
    writeFileSync(join(dir, "secrets", "db_password.txt"), "s3cret-first-value\n");
    const r = resolveSpec(loaded, { env: "development", vars: { API_KEY: "k" } });
    expect(r.spec.services.db?.env.POSTGRES_PASSWORD).toBe("s3cret-first-value");
    expect(r.spec.services.db?.secretEnv).toEqual(["POSTGRES_PASSWORD"]);
    expect(JSON.stringify(r.snapshot)).not.toContain("s3cret-first-value");
    // A re-applied revision reads the file as it is then.
    writeFileSync(join(dir, "secrets", "db_password.txt"), "s3cret-rotated\n");
    expect(rehydrate(r.snapshot, {}).services.db?.env.POSTGRES_PASSWORD).toBe("s3cret-rotated");
  });
});

/** One imported stack deployed for real: the secret file, the user and the healthy dependency. */
describe("an imported Compose stack deploys on Docker", () => {
  const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;
  const stack = dockerStack("compose");
  afterAll(() => stack.teardown());

  it("the database reads its password file as its user, and the app starts after it is healthy", async () => {
    await ensureTestImages();
    const EXTRA_PORT = await freePort();
    mkdirSync(join(stack.dir, "secrets"));
    writeFileSync(join(stack.dir, "secrets", "db_password.txt"), `${PASSWORD}\n`);
    writeFileSync(
      join(stack.dir, "compose.yaml"),
      `name: shop
services:
  db:
    image: slipway-test/busybox:latest
    user: "1000:1000"
    command: ["sh", "-c", "sleep 3; cat \\"$$POSTGRES_PASSWORD_FILE\\" > /tmp/seen && sleep 3600"]
    environment:
      POSTGRES_PASSWORD_FILE: /run/secrets/db-password
    secrets: [db-password]
    healthcheck:
      test: ["CMD-SHELL", "test -s /tmp/seen"]
      interval: 1s
  app:
    image: slipway-test/busybox:latest
    command: ["httpd", "-f", "-p", "9000", "-h", "/etc"]
    ports: ["8080", "${EXTRA_PORT}:9000"]
    depends_on:
      db: { condition: service_healthy }
secrets:
  db-password: { file: ./secrets/db_password.txt }
`,
    );
    const init = await stack.cli(["init", "--from-compose", join(stack.dir, "compose.yaml")]);
    expect(init.code, init.stderr).toBe(0);
    const imported = readFileSync(stack.file, "utf8");
    expect(imported).toMatch(/^project: shop$/m);
    writeFileSync(stack.file, imported.replace(/^project: shop$/m, `project: ${stack.project}`));
    const d = await stack.cli(["deploy", "development", "--version", "v1", "--json"]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout + d.stderr).not.toContain(PASSWORD);

    const running = await stack.containers();
    const db = running.find((c) => c.Labels["slipway.service"] === "db");
    const app = running.find((c) => c.Labels["slipway.service"] === "app");
    expect(db && app).toBeTruthy();
    const inDb = async (cmd: string) =>
      (await run("docker", ["exec", db!.Id, "sh", "-c", cmd])).stdout.trim();
    expect(await inDb("id -u; id -g")).toBe("1000\n1000");
    expect(await inDb("cat /tmp/seen")).toBe(PASSWORD);
    expect(await inDb("stat -c '%a %u:%g' /run/secrets/POSTGRES_PASSWORD")).toBe("400 1000:1000");
    const { stdout: inspect } = await run("docker", ["inspect", db!.Id]);
    expect(inspect).not.toContain(PASSWORD);
    // The app waited for the database's health (its file appears 3 s after it starts).
    const time = async (id: string, field: string) =>
      Date.parse((await run("docker", ["inspect", "-f", `{{${field}}}`, id])).stdout.trim());
    expect(
      (await time(app!.Id, ".Created")) - (await time(db!.Id, ".State.StartedAt")),
    ).toBeGreaterThanOrEqual(3000);
    const history = await stack.cli(["history", "development", "--json"]);
    expect(history.stdout + history.stderr).not.toContain(PASSWORD);
    // The further port is published on the host, and status lists it.
    const res = await fetch(`http://127.0.0.1:${EXTRA_PORT}/hostname`);
    expect(res.status).toBe(200);
    const status = await stack.cli(["status", "development", "--json"]);
    const appStatus = JSON.parse(status.stdout).result.services.find(
      (s: { name: string }) => s.name === "app",
    );
    expect(appStatus.ports).toEqual([{ name: `p${EXTRA_PORT}`, address: `127.0.0.1:${EXTRA_PORT}` }]);
  }, 300_000);
});

/**
 * Compose files shaped like six well-known public examples (test/docker/fixtures/shapes): each
 * imports into a spec that resolves without edits, keeping what made them fail at start before
 * (secret files, further ports, user, the project name).
 */
describe("Compose files as people write them", () => {
  const shapes = fileURLToPath(new URL("./fixtures/shapes/", import.meta.url));
  const imported = (name: string) => {
    const dir = mkdtempSync(join(tmpdir(), `slipway-shape-${name}-`));
    const compose = join(dir, "compose.yaml");
    writeFileSync(compose, readFileSync(join(shapes, `${name}.yml`), "utf8"));
    for (const d of ["backend", "frontend", "db", "prometheus", "grafana"]) mkdirSync(join(dir, d));
    for (const f of ["db_password.txt", "db_root_password.txt", "db/password.txt"])
      writeFileSync(join(dir, f), "pw\n");
    const { yaml, unmapped } = importCompose(readFileSync(compose, "utf8"), compose);
    const file = join(dir, "slipway.yaml");
    writeFileSync(file, yaml);
    const r = resolveSpec(parseSpecText(yaml, file), { env: "development", vars: { DB_PASSWORD: "pw" } });
    return { spec: r.spec, unmapped };
  };

  it("Nextcloud with Redis and MariaDB: secret files, the project's name, stateful databases", () => {
    const { spec } = imported("nextcloud");
    expect(spec.project).toBe("nextcloud");
    expect(spec.services.db?.stateful && spec.services.redis?.stateful).toBe(true);
    expect(spec.services.db?.secrets?.names).toEqual(["MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD"]);
    expect(spec.services.app?.port).toBe(8080);
  });

  it("Elasticsearch, Logstash, Kibana: every published TCP port kept", () => {
    const { spec, unmapped } = imported("elk");
    expect(spec.services.elasticsearch?.ports?.map((p) => p.port)).toEqual([9300]);
    expect(spec.services.logstash?.ports?.map((p) => p.port)).toEqual([50000, 9600]);
    expect(spec.services.logstash?.rollout.strategy).toBe("recreate");
    expect(unmapped.find((u) => u.startsWith("services.logstash.ports[2]"))).toMatch(/only TCP/);
  });

  it("Go + Postgres + RabbitMQ + nginx: AMQP beside the management UI, the user, health-gated order", () => {
    const { spec } = imported("go-postgres-rabbitmq");
    expect(spec.services.rabbitmq?.ports).toEqual([{ name: "p5672", port: 5672, containerPort: 5672 }]);
    expect(spec.services.db?.user).toBe("postgres");
    expect(spec.services.db?.secrets?.names).toEqual(["POSTGRES_PASSWORD"]);
    expect(spec.services.api?.dependsOn).toEqual(["db", "rabbitmq"]);
  });

  it("FastAPI + Ollama, React/Express/MongoDB, Prometheus + Grafana resolve as imported", () => {
    expect(imported("fastapi-ollama").spec.services.ollama?.resources?.gpus).toEqual({ count: 1 });
    expect(imported("mern").spec.services.mongo?.stateful).toBe(true);
    expect(Object.keys(imported("prometheus-grafana").spec.services)).toEqual(["prometheus", "grafana"]);
  });
});
