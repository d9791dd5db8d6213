/**
 * The slipway.yaml schema. It is also the documentation: every field carries a description
 * that `slipway docs` and the JSON Schema (`slipway schema`) are generated from.
 */
import { z } from "zod";
import { duration, envMap, name, stringOrList, size } from "./fields.js";
import { checkOverrideSchema, checkSchema } from "./schema-checks.js";
import { analysisOverrideSchema, analysisSchema } from "./schema-analysis.js";
import { alertsSchema } from "./schema-alerts.js";
import { backupSchema } from "./schema-backup.js";
import { protectSchema } from "./schema-protect.js";
import { groupField, groupsSchema } from "./schema-groups.js";
import { infrastructureSchema } from "./schema-infra.js";
import { extraPortsSchema } from "./schema-ports.js";
import { kubernetesServiceFields, kubernetesTarget, resourceRequestsSchema } from "./schema-kubernetes.js";
import { edgeProxySchema } from "./schema-edge.js";
import { ruleOverrideSchema, rulesSchema, runbooksSchema } from "./schema-rules.js";

export const healthSchema = z
  .strictObject({
    http: z.string().optional().describe("HTTP path probed on the instance's $PORT; 2xx/3xx is healthy."),
    tcp: z.boolean().optional().describe("Healthy when the instance's $PORT accepts a TCP connection."),
    exec: z
      .string()
      .optional()
      .describe("A shell command run in the instance's directory; exit 0 is healthy."),
    postgres: z.string().optional().describe("A PostgreSQL URL; healthy when a query succeeds."),
    redis: z.string().optional().describe("A Redis URL; healthy when PING answers PONG."),
    expectStatus: z
      .number()
      .int()
      .optional()
      .describe("HTTP status the http probe expects (default 2xx/3xx)."),
    interval: duration("Time between probes.").default(2000),
    timeout: duration("Time one probe may take.").default(2000),
    startPeriod: duration("Failures during this period after start do not count.").default(0),
    startTimeout: duration("How long a new instance has to become healthy before the release fails.").default(
      60_000,
    ),
    healthyThreshold: z.number().int().min(1).default(1).describe("Consecutive successes to become healthy."),
    unhealthyThreshold: z
      .number()
      .int()
      .min(1)
      .default(3)
      .describe("Consecutive failures to become unhealthy."),
  })
  .describe("How Slipway knows an instance is healthy.");

export const smokeSchema = z.strictObject({
  http: z.string().describe("Path requested through the service's public port after the switch."),
  method: z.string().default("GET"),
  expectStatus: z.number().int().default(200),
  expectBody: z.string().optional().describe("A substring the body must contain."),
});

export const rolloutSchema = z
  .strictObject({
    strategy: z
      .enum(["recreate", "blue-green", "canary"])
      .optional()
      .describe(
        "recreate stops the old instances before starting the new ones (the default for stateful and " +
          "unproxied services); blue-green (the default otherwise) starts the new slot, waits for health " +
          "and switches traffic at once; canary shifts traffic in steps. blue-green and canary on a " +
          "service with a port need the proxy.",
      ),
    steps: z
      .array(
        z.strictObject({
          weight: z.number().min(0).max(100).describe("Percent of traffic sent to the candidate."),
          pause: duration("How long to hold this weight (analysis runs meanwhile).").default(0),
        }),
      )
      .default([])
      .describe("Canary steps."),
    sticky: z.boolean().default(false).describe("Keep a client on the slot it first reached (cookie)."),
    drainTimeout: duration("How long in-flight requests of the old slot may take to finish.").default(30_000),
    responseTimeout: duration()
      .refine((ms) => ms >= 1, "must be at least 1ms")
      .describe(
        "How long an instance has to start answering a request through the proxy before the client " +
          "gets a 504 (long polls and slow reports need more).",
      )
      .default(60_000),
    keepWarm: duration("How long the previous slot keeps running after a promotion (0 disables).").default(
      300_000,
    ),
    trafficRouting: z
      .enum(["replicas", "nginx"])
      .optional()
      .describe(
        "Kubernetes: how canary weights are applied. replicas (default): one Service selects stable and " +
          "candidate pods, so traffic follows their replica counts; nginx: exact weights by the NGINX " +
          "ingress controller's canary annotations (a second Service and Ingress for the candidate; " +
          "needs `domains`).",
      ),
  })
  .describe("How a new release replaces the running one.");

export const stopSchema = z.strictObject({
  signal: z
    .enum(["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGKILL"])
    .default("SIGTERM")
    .describe("Signal sent to stop an instance."),
  grace: duration("Time between the signal and SIGKILL.").default(10_000),
});

export const restartSchema = z
  .strictObject({
    policy: z.enum(["always", "on-failure", "no"]).default("on-failure"),
    backoff: duration("First delay before a restart; doubles up to maxBackoff.").default(500),
    maxBackoff: duration("Longest delay between restarts.").default(30_000),
    crashLoop: z
      .strictObject({
        restarts: z
          .number()
          .int()
          .min(1)
          .default(5)
          .describe("Restarts within `within` that mark a crash loop."),
        within: duration().default(60_000),
        rollbackAfter: duration(
          "A service whose every instance has crash-looped this long is rolled back to the previous revision by the daemon (0 disables).",
        ).default(300_000),
      })
      .prefault({})
      .describe("When the service is marked degraded."),
  })
  .describe("What happens when an instance exits on its own.");

const gpuSchema = z.union([
  z.strictObject({ devices: z.array(z.union([z.number().int(), z.string()])).min(1) }),
  z.strictObject({ count: z.union([z.number().int().min(1), z.literal("all")]) }),
]);

export const resourcesSchema = z
  .strictObject({
    memory: size("Memory limit.").optional(),
    cpus: z.number().positive().optional().describe("CPU limit in cores."),
    gpus: gpuSchema.optional().describe("GPU devices ({ devices: [0, 1] }) or a count ({ count: 2 })."),
    requests: resourceRequestsSchema.optional(),
  })
  .describe("Resource limits and reservations.");

export const buildSchema = z.strictObject({
  context: z.string().default("."),
  dockerfile: z.string().optional(),
  args: envMap.optional(),
  target: z.string().optional(),
});

export const migrateSchema = z
  .strictObject({
    up: z.string().optional().describe("Command that applies pending migrations."),
    down: z.string().optional().describe("Command that reverts the last migration (or to --to N)."),
    status: z.string().optional().describe("Command that prints the migration status."),
  })
  .describe("Database migrations, run as a one-off instance of the new release before traffic moves.");

export const logsSchema = z.strictObject({
  maxSize: size("Rotate an instance's log file at this size.").default(10 * 1024 * 1024),
  maxFiles: z.number().int().min(1).default(5).describe("Rotated files kept."),
});

const secretsSchema = z
  .strictObject({
    as: z
      .enum(["env", "files"])
      .optional()
      .describe(
        "env (default): secret values are plain environment variables — simple, but the engine keeps " +
          "them in the container's configuration, so `docker inspect` shows them. files (Docker): each " +
          "is written into the container as /run/secrets/NAME (mode 0400) before it starts, and NAME_FILE " +
          "points to it instead of NAME (the official postgres, mariadb and mysql images read NAME_FILE).",
      ),
    names: z
      .array(z.string())
      .optional()
      .describe(
        "The env keys written as files. Default: every key whose value comes from a ${VAR} (other than " +
          "VERSION) or from an env file — what Slipway treats as secret and never stores in clear.",
      ),
    uid: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Owner of the files (default 0, root); set it when the image runs as another user."),
    gid: z.number().int().min(0).optional().describe("Group of the files (default 0)."),
    fromFile: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name"),
        z.string(),
      )
      .optional()
      .describe(
        "Env keys whose value is the content of a file (path relative to slipway.yaml; trailing newlines " +
          "dropped), read at every deploy and never stored: the revision keeps the path and reads the " +
          "file again when it is re-applied. Compose's file-based secrets import as these, with `as: files`.",
      ),
  })
  .describe("How secret env values reach the instances (Docker: environment or files).");

const serviceFields = {
  run: z.string().optional().describe("Process target: the command that starts an instance (shell syntax)."),
  path: z
    .string()
    .optional()
    .describe("Process target: the artifact directory copied into an immutable release directory."),
  image: z.string().optional().describe("Docker/Kubernetes targets: the image, ${VERSION} interpolated."),
  build: buildSchema.optional(),
  command: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe("Docker/Kubernetes targets: overrides the image's command."),
  user: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Docker target: the user the container's process runs as — a name or uid, optionally :group or :gid " +
        "(Docker's User, Compose's user:). Default: the image's.",
    ),
  port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe(
      "The public port users reach. Proxied services (the default, except stateful ones): the " +
        "instances listen on an ephemeral $PORT and Slipway's proxy routes the public port to them. " +
        "Unproxied (`proxy: false`, stateful services by default): the one instance listens on this port itself.",
    ),
  proxy: z
    .boolean()
    .optional()
    .describe(
      "Route the public `port` through Slipway's HTTP proxy (blue-green and canary need it). Default: " +
        "true for services with a port, false for stateful ones — a database speaks its own protocol, " +
        "so it binds the port directly (PORT = port; Docker publishes the container port on it).",
    ),
  containerPort: z.number().int().optional().describe("Docker: the port the container listens on."),
  ports: extraPortsSchema.optional(),
  replicas: z.number().int().min(0).optional().describe("Number of instances (default 1)."),
  env: envMap.optional(),
  envFile: stringOrList.optional().describe("Env files whose variables are given to the instances."),
  secrets: secretsSchema.optional(),
  placement: z
    .strictObject({
      hosts: z
        .array(z.string())
        .optional()
        .describe(
          "The hosts (name or ssh string) that run this service. Default: every host; stateful: the first.",
        ),
    })
    .optional()
    .describe("Multi-host Docker targets: where the service runs; `replicas` is per host."),
  health: healthSchema.optional(),
  smoke: z.array(smokeSchema).optional().describe("Requests that must succeed after the switch."),
  dependsOn: z.array(z.string()).optional().describe("Services deployed (and healthy) before this one."),
  stop: stopSchema.optional(),
  restart: restartSchema.optional(),
  stateful: z
    .boolean()
    .optional()
    .describe(
      "Never run two instances at once (databases): recreate strategy, one instance, and not proxied " +
        "unless `proxy: true`.",
    ),
  rollout: rolloutSchema.optional(),
  resources: resourcesSchema.optional(),
  volumes: z.array(z.string()).optional().describe("Docker volumes: name:/path or ./host/path:/path[:ro]."),
  retain: z.number().int().min(0).optional().describe("Earlier releases kept for instant rollback."),
  logs: logsSchema.optional(),
  migrate: migrateSchema.optional(),
  backup: backupSchema.optional(),
  labels: z.record(z.string(), z.string()).optional(),
  group: groupField,
  ...kubernetesServiceFields,
};

export const serviceSchema = z.strictObject(serviceFields).describe("One service of the project.");
export const serviceOverrideSchema = z
  .strictObject(serviceFields)
  .describe("Per-environment overrides of a service, merged over the service's own fields.");

const processTarget = z.strictObject({ kind: z.literal("process") });
const dockerHost = z
  .strictObject({
    ssh: z.string().describe("user@host[:port] of the engine's machine."),
    publish: z
      .string()
      .optional()
      .describe(
        "Address on that machine the containers' ports are published on (default 127.0.0.1, its " +
          "loopback): a private address the Slipway proxy can reach, never 0.0.0.0 on a public interface.",
      ),
    name: z.string().optional().describe("A short name for `placement.hosts` (default: the ssh string)."),
  })
  .describe("A remote engine: where to reach it and where its containers publish their ports.");
const dockerTarget = z.strictObject({
  kind: z.literal("docker"),
  socket: z.string().optional().describe("Docker Engine socket (default /var/run/docker.sock)."),
  hosts: z
    .array(z.union([z.string(), dockerHost]))
    .optional()
    .describe(
      "Remote engines reached over SSH: user@host[:port] or { ssh, publish, name }. Default: the local " +
        "engine. Every host runs `replicas` instances of each service; stateful ones run on one host.",
    ),
  ssh: z
    .strictObject({
      key: z
        .string()
        .optional()
        .describe(
          "Private key file (default: the $SSH_AUTH_SOCK agent, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa).",
        ),
      knownHosts: z
        .string()
        .optional()
        .describe("known_hosts file the host keys are verified against (default ~/.ssh/known_hosts)."),
    })
    .optional()
    .describe("SSH settings for `hosts` (paths: absolute, ~/…, or relative to slipway.yaml)."),
});
export const targetSchema = z
  .union([
    z.literal("process").transform(() => ({ kind: "process" as const })),
    z.literal("docker").transform(() => ({ kind: "docker" as const })),
    z.literal("kubernetes").transform(() => ({ kind: "kubernetes" as const, namespace: "default" })),
    z.discriminatedUnion("kind", [processTarget, dockerTarget, kubernetesTarget]),
  ])
  .describe("Where the environment runs: process (local processes), docker or kubernetes.");

export const environmentSchema = z
  .strictObject({
    target: targetSchema.prefault("process"),
    protect: protectSchema.optional(),
    envFile: stringOrList.optional().describe("Env files whose variables are used for ${VAR} interpolation."),
    env: envMap.optional().describe("Variables added to every service's instances in this environment."),
    services: z.record(z.string(), serviceOverrideSchema).optional(),
    rules: z
      .array(ruleOverrideSchema)
      .optional()
      .describe("Rule overrides of this environment, merged by name."),
    checks: z
      .array(checkOverrideSchema)
      .optional()
      .describe("This environment's checklist changes, merged by name over the top-level `checks:`."),
    analysis: analysisOverrideSchema.optional(),
    proxy: edgeProxySchema.optional(),
  })
  .describe("One environment (development, staging, production …).");

export const scheduleSchema = z.strictObject({
  name: name,
  cron: z.string().describe("Cron expression (5 or 6 fields)."),
  run: z.enum(["health", "backup", "backup-verify", "check", "runbook"]),
  runbook: z.string().optional().describe("run: runbook — the runbook (a key of `runbooks:`) to run."),
  env: z.string().optional().describe("Environment (default: every environment that is deployed)."),
  heal: z.enum(["restart", "none"]).default("none"),
});

export const specSchema = z
  .strictObject({
    $schema: z.string().optional(),
    project: name.describe("Project name; used in process names, container labels and the store."),
    environments: z.record(z.string(), environmentSchema).describe("The environments, by name."),
    services: z.record(z.string(), serviceSchema).describe("The services, by name."),
    groups: groupsSchema.optional(),
    infrastructure: infrastructureSchema.optional(),
    checks: z.array(checkSchema).optional().describe("The pre-flight checklist run before every deploy."),
    analysis: analysisSchema.optional(),
    alerts: alertsSchema.optional(),
    schedules: z.array(scheduleSchema).optional(),
    rules: rulesSchema.optional(),
    runbooks: runbooksSchema.optional(),
  })
  .describe("slipway.yaml: a project's environments and services.");

export type UserSpec = z.input<typeof specSchema>;
export type ParsedSpec = z.output<typeof specSchema>;
export type ParsedService = z.output<typeof serviceSchema>;
export type Health = z.output<typeof healthSchema>;
export type Rollout = z.output<typeof rolloutSchema>;
export type Target = z.output<typeof targetSchema>;
