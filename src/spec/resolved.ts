/**
 * The frozen, fully resolved spec for one environment: environment overlay merged,
 * ${VAR} interpolated, defaults applied. Produced only by resolve(); consumed by the engine.
 */
import type { z } from "zod";
import type { Health, Rollout, Target } from "./schema.js";
import type {
  buildSchema,
  logsSchema,
  migrateSchema,
  resourcesSchema,
  restartSchema,
  smokeSchema,
  stopSchema,
  scheduleSchema,
} from "./schema.js";
import type { checkSchema } from "./schema-checks.js";
import type { analysisSchema } from "./schema-analysis.js";
import type { alertsSchema } from "./schema-alerts.js";
import type { backupSchema } from "./schema-backup.js";
import type { Autoscale, Chart } from "./schema-kubernetes.js";
import type { TerraformStepSpec } from "./schema-infra.js";
import type { Rule, Runbook } from "./schema-rules.js";
import type { ExtraPort } from "./schema-ports.js";

export type Strategy = "recreate" | "blue-green" | "canary";

export interface ResolvedService {
  name: string;
  run?: string;
  /** Absolute path of the artifact directory (process target). */
  path: string;
  image?: string;
  build?: z.output<typeof buildSchema>;
  command?: string | string[];
  /** Docker: the user the container's process runs as (Docker's User). */
  user?: string;
  port?: number;
  /**
   * The public port goes through Slipway's proxy. resolve() always sets it; a hand-built service
   * without it follows the default (see proxied() in defaults.ts).
   */
  proxy?: boolean;
  containerPort?: number;
  /** Further ports published directly (`ports:`), each bound by the one instance itself. */
  ports?: ExtraPort[];
  replicas: number;
  /** Final environment given to instances (environment env + envFile + env), before PORT and SLIPWAY_*. */
  env: Record<string, string>;
  /** How secret env values reach the instances; absent: as environment variables. */
  secrets?: {
    as: "env" | "files";
    names?: string[];
    uid?: number;
    gid?: number;
    /** Env key → the file its value is read from (relative to the spec's directory). */
    fromFile?: Record<string, string>;
  };
  /**
   * The env keys resolve() treats as secret (a ${VAR} or an env file gave their value): the ones
   * `secrets.as: files` writes as files. Key names only, never values.
   */
  secretEnv?: string[];
  /**
   * Stored snapshots only: for each `${REF}` an env file gave, the file (absolute path) and key
   * it came from, so a daemon can re-read the value after a restart. Paths only, never values.
   */
  envFileRefs?: Record<string, EnvFileRef>;
  /**
   * Multi-host Docker targets: the host keys (ssh strings) the instances run on, instance i on
   * placement[i % length]; `replicas` is then the total (per-host replicas × hosts).
   */
  placement?: string[];
  health?: Health;
  smoke: z.output<typeof smokeSchema>[];
  dependsOn: string[];
  stop: z.output<typeof stopSchema>;
  restart: z.output<typeof restartSchema>;
  stateful: boolean;
  /** responseTimeout is optional: snapshots of revisions deployed before it existed have none. */
  rollout: Omit<Rollout, "responseTimeout"> & { strategy: Strategy; responseTimeout?: number };
  resources?: z.output<typeof resourcesSchema>;
  volumes: string[];
  retain: number;
  logs: z.output<typeof logsSchema>;
  migrate?: z.output<typeof migrateSchema>;
  backup?: z.output<typeof backupSchema>;
  labels: Record<string, string>;
  /** Kubernetes: a HorizontalPodAutoscaler; host names (an Ingress) and their TLS Secret. */
  autoscale?: Autoscale;
  domains?: string[];
  /**
   * TLS for `domains`: certificate files (absolute paths after resolve) or ACME on process and
   * Docker targets, a Secret on Kubernetes. One object type so every target reads its own field.
   */
  tls?: { secretName?: string; cert?: string; key?: string; acme?: { email: string; directory?: string } };
  /** Kubernetes: a Helm chart rendered by `helm template`, with its values. */
  chart?: Chart;
  values?: Record<string, unknown>;
  valuesFiles?: string[];
  /** Kubernetes: existing pull Secrets for this service's pods (beside the target's). */
  imagePullSecrets?: string[];
  /** Its group (spec/groups.ts), when the spec uses groups. */
  group?: string;
}

export interface ResolvedEdge {
  http?: { host: string; port: number };
  https?: { host: string; port: number };
  redirectHttp: boolean;
  /** Strict-Transport-Security max-age in seconds; 0 = none. */
  hstsSeconds: number;
  proxyProtocol: boolean;
}

/** Where a stored `${REF}` is read again: a key of an env file, or (whole) a secret file's content. */
export interface EnvFileRef {
  file: string;
  key: string;
  /** The value is the whole file (secrets.fromFile), not a key of a dotenv file. */
  whole?: boolean;
}

export interface ResolvedSpec {
  project: string;
  /** The environment name. */
  env: string;
  /** Absolute path of slipway.yaml and its directory. */
  file: string;
  dir: string;
  version: string;
  target: Target;
  protect?: { confirm: boolean | "name"; context?: string; freeze?: string[] };
  proxyHost: string;
  /** The environment's shared listeners for `domains` (process and Docker targets). */
  edge?: ResolvedEdge;
  /** Services in the order they appear in the file. */
  services: Record<string, ResolvedService>;
  checks: z.output<typeof checkSchema>[];
  analysis?: z.output<typeof analysisSchema>;
  alerts?: z.output<typeof alertsSchema>;
  schedules: z.output<typeof scheduleSchema>[];
  /** Groups of services in deploy order (spec/groups.ts); absent when no service has a group. */
  groups?: { name: string; description?: string }[];
  /** `infrastructure:` steps (spec/schema-infra.ts), `dir` absolute and `name` set. */
  infrastructure?: { terraform: TerraformStepSpec & { name: string } }[];
  /** Standing alert rules (enabled ones, environment overrides merged); absent in older snapshots. */
  rules?: Rule[];
  /** Runbooks by name; absent in older snapshots. */
  runbooks?: Record<string, Runbook>;
  /**
   * Snapshots only: where each `${REF}` whose value came from an environment's `envFile` is read
   * again (service env files keep theirs on the service).
   */
  envFileRefs?: Record<string, EnvFileRef>;
  /** `${VAR:-default}` / `${VAR-default}` defaults of the secret variables, for re-hydration. */
  varDefaults?: Record<string, { empty: boolean; value: string }>;
}
