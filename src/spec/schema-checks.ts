/**
 * The pre-flight checklist schema (`checks:` in slipway.yaml). Each entry is an object with
 * exactly one kind key (`command`, `env`, `tcp`, `http`, `postgres`, `redis`, `resources`,
 * `gpu`, `tls`, `confirm`) plus the common fields `name`, `timeout` and `severity`.
 * It parses to the normalized, discriminated `CheckSpec` the runner in src/checks/ consumes.
 */
import { z } from "zod";
import { duration, envMap, percent, size, stringOrList } from "./fields.js";
import { deepMerge, isObj } from "./tree.js";

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):(\d{1,5})$/;

/**
 * Addresses and URLs usually come from ${VAR}s, which are empty when `slipway validate` runs without
 * the environment's secrets; so an empty value passes the schema and fails the check at run time.
 */
const orEmpty = (re: RegExp) => (s: string) => s === "" || re.test(s);

export const HOST_PORT_RE = HOST_PORT;

const hostPort = (what: string) =>
  z
    .string()
    .refine((s) => s.startsWith(":") || orEmpty(HOST_PORT)(s), "expected host:port, e.g. db.internal:5432")
    .describe(`${what} as host:port (IPv6 in brackets: [::1]:443).`);

const httpUrl = z.string().refine(orEmpty(/^https?:\/\/[^\s/]+/), "expected an http:// or https:// URL");

const regexSource = z.string().refine(
  (s) => {
    try {
      new RegExp(s, "i");
      return true;
    } catch {
      return false;
    }
  },
  { message: "not a valid regular expression" },
);

const commandSchema = z
  .union([
    z.string().min(1),
    z.strictObject({
      run: z.string().min(1).describe("The shell command."),
      cwd: z.string().optional().describe("Working directory, relative to slipway.yaml's directory."),
      env: envMap.optional().describe("Extra environment variables for the command."),
    }),
  ])
  .describe(
    "A shell command (e.g. npm test) run in the spec's directory; exit 0 passes. The tail of its output is the evidence.",
  );

const envCheckSchema = z
  .strictObject({
    required: z
      .array(z.string())
      .default([])
      .describe("Variables that must be set to a non-empty, non-placeholder value."),
    minLength: z
      .record(z.string(), z.number().int().min(1))
      .optional()
      .describe("Minimum length per variable, e.g. { JWT_SECRET: 64 }."),
    placeholders: z
      .array(regexSource)
      .optional()
      .describe(
        "Extra regular expressions (case-insensitive) marking a value as a placeholder, added to the built-in " +
          "CHANGE_THIS, changeme, your-…, xxx and <…>.",
      ),
    files: stringOrList
      .optional()
      .describe(
        "Env files that must exist and not be readable by group or others (chmod 600); their variables are " +
          "scanned for placeholders too.",
      ),
  })
  .describe("Environment variables: present, long enough, no placeholder values; env files private.");

const httpCheckSchema = z
  .union([
    httpUrl,
    z.strictObject({
      url: httpUrl.describe("The URL requested."),
      method: z.string().default("GET").describe("HTTP method."),
      expectStatus: z
        .number()
        .int()
        .min(100)
        .max(599)
        .optional()
        .describe("Expected status (default 2xx/3xx)."),
    }),
  ])
  .describe("An HTTP(S) URL that must answer (2xx/3xx unless expectStatus is given).");

const thresholdSchema = (what: string) =>
  z.strictObject({ max: percent(`Highest acceptable ${what}, e.g. 90%.`) });

const resourcesCheckSchema = z
  .strictObject({
    disk: z
      .strictObject({
        path: z
          .string()
          .default(".")
          .describe(
            "A path on the file system measured (default: the spec's directory). On Docker SSH hosts an absolute path is measured on each host; a relative one means the engine's Docker root dir.",
          ),
        max: percent("Highest acceptable used share of the file system, e.g. 90%."),
      })
      .optional()
      .describe("Disk space used on the file system holding `path`."),
    memory: thresholdSchema("memory used (MemAvailable counts as free)")
      .optional()
      .describe("Memory used on the machine (each host of a Docker target with SSH hosts)."),
    cpu: thresholdSchema("1-minute load average per core")
      .optional()
      .describe("CPU load: the 1-minute load average divided by the number of cores."),
  })
  .refine((r) => r.disk || r.memory || r.cpu, { message: "give at least one of disk, memory, cpu" })
  .describe(
    "Disk, memory and CPU load below thresholds: on the machine running Slipway, or on every host of a Docker target with SSH hosts.",
  );

const gpuCheckSchema = z
  .strictObject({
    count: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe("GPUs that must be present (among `devices` if given)."),
    devices: z
      .array(z.number().int().min(0))
      .optional()
      .describe("Only these GPU indexes are considered (e.g. [0, 1] for a service pinned to them)."),
    minFreeMemory: size("Free memory every considered GPU must have, e.g. 20Gi.").optional(),
    ifMissing: z
      .enum(["fail", "skip"])
      .default("fail")
      .describe("When nvidia-smi is not installed: fail the check, or skip it (machines without GPUs)."),
  })
  .describe(
    "NVIDIA GPUs (via nvidia-smi): count and free memory, on this machine or on every host of a Docker target with SSH hosts.",
  );

const tlsCheckSchema = z
  .union([
    hostPort("A TLS endpoint"),
    z
      .strictObject({
        file: z.string().optional().describe("A PEM certificate file (relative to the spec's directory)."),
        host: hostPort("A TLS endpoint").optional(),
        servername: z.string().optional().describe("SNI name sent to `host` (default: its host name)."),
        minDays: z.number().min(0).default(14).describe("Fewest days the certificate must remain valid."),
      })
      .refine((t) => (t.file === undefined) !== (t.host === undefined), {
        message: "give exactly one of file or host",
      }),
  ])
  .describe("A TLS certificate (file or host:port) valid for at least minDays more days.");

const secretAgeSchema = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected a variable name"),
    duration("The longest a value may stay in use, e.g. 90d."),
  )
  .refine((m) => Object.keys(m).length > 0, "name at least one secret, e.g. { JWT_SECRET: 90d }")
  .describe(
    "Secrets with a lifetime: name → maximum age. Slipway records when it first saw each value (a keyed " +
      "hash, never the value); the check warns within 14 days of the age (half the age when that is " +
      "shorter) and fails after it. `slipway secrets ENV` lists the ages.",
  );

const confirmSchema = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .describe(
    "Items a human confirms (`slipway check ENV --confirm ITEM` or an interactive prompt); recorded with who confirmed.",
  );

const KINDS = [
  "command",
  "env",
  "tcp",
  "http",
  "postgres",
  "redis",
  "resources",
  "gpu",
  "tls",
  "confirm",
  "secretAge",
] as const;
export type CheckKind = (typeof KINDS)[number];
export const CHECK_KINDS: readonly CheckKind[] = KINDS;

interface CheckCommon {
  /** The label shown in the checklist; the runner derives one when absent. */
  name?: string;
  /** Milliseconds; the runner applies a per-kind default when absent. */
  timeoutMs?: number;
  severity: "error" | "warning";
}

export type CommandCheckSpec = CheckCommon & {
  kind: "command";
  run: string;
  cwd?: string;
  env?: Record<string, string>;
};
export type EnvCheckSpec = CheckCommon & {
  kind: "env";
  required: string[];
  minLength?: Record<string, number>;
  placeholders?: string[];
  files?: string[];
};
export type TcpCheckSpec = CheckCommon & { kind: "tcp"; address: string };
export type HttpCheckSpec = CheckCommon & {
  kind: "http";
  url: string;
  method: string;
  expectStatus?: number;
};
export type PostgresCheckSpec = CheckCommon & { kind: "postgres"; url: string };
export type RedisCheckSpec = CheckCommon & { kind: "redis"; url: string };
export type ResourcesCheckSpec = CheckCommon & {
  kind: "resources";
  disk?: { path: string; max: number };
  memory?: { max: number };
  cpu?: { max: number };
};
export type GpuCheckSpec = CheckCommon & {
  kind: "gpu";
  count: number;
  devices?: number[];
  minFreeMemory?: number;
  ifMissing: "fail" | "skip";
};
export type TlsCheckSpec = CheckCommon & {
  kind: "tls";
  file?: string;
  host?: string;
  servername?: string;
  minDays: number;
};
export type ConfirmCheckSpec = CheckCommon & { kind: "confirm"; items: string[] };
/** maxAge: secret name → milliseconds. */
export type SecretAgeCheckSpec = CheckCommon & { kind: "secretAge"; maxAge: Record<string, number> };

/** One normalized pre-flight check, as parsed from the spec. */
export type CheckSpec =
  | CommandCheckSpec
  | EnvCheckSpec
  | TcpCheckSpec
  | HttpCheckSpec
  | PostgresCheckSpec
  | RedisCheckSpec
  | ResourcesCheckSpec
  | GpuCheckSpec
  | TlsCheckSpec
  | ConfirmCheckSpec
  | SecretAgeCheckSpec;

const checkObject = z.strictObject({
  command: commandSchema.optional(),
  env: envCheckSchema.optional(),
  tcp: hostPort("An address that must accept a TCP connection").optional(),
  http: httpCheckSchema.optional(),
  postgres: z
    .string()
    .refine(orEmpty(/^postgres(ql)?:\/\//), "expected a postgres:// URL")
    .optional()
    .describe("A PostgreSQL URL; passes when it connects and `select 1` answers."),
  redis: z
    .string()
    .refine(orEmpty(/^rediss?:\/\//), "expected a redis:// or rediss:// URL")
    .optional()
    .describe("A Redis URL; passes when PING answers PONG (AUTH with the URL's password)."),
  resources: resourcesCheckSchema.optional(),
  gpu: gpuCheckSchema.optional(),
  tls: tlsCheckSchema.optional(),
  confirm: confirmSchema.optional(),
  secretAge: secretAgeSchema.optional(),
  name: z
    .string()
    .min(1)
    .optional()
    .describe("Label shown in the checklist (default: derived from the check)."),
  timeout: duration(
    "How long the check may take (default: 10m for command, 10s for gpu, 5s for the others; confirm has none).",
  ).optional(),
  severity: z
    .enum(["error", "warning"])
    .default("error")
    .describe("error: a failure stops the deploy; warning: a failure is reported as a warning only."),
});

type CheckInput = z.output<typeof checkObject>;

function normalize(c: CheckInput): CheckSpec {
  const common: CheckCommon = { severity: c.severity };
  if (c.name !== undefined) common.name = c.name;
  if (c.timeout !== undefined) common.timeoutMs = c.timeout;
  if (c.command !== undefined) {
    return typeof c.command === "string"
      ? { ...common, kind: "command", run: c.command }
      : { ...common, kind: "command", ...c.command };
  }
  if (c.env !== undefined) return { ...common, kind: "env", ...c.env };
  if (c.tcp !== undefined) return { ...common, kind: "tcp", address: c.tcp };
  if (c.http !== undefined) {
    return typeof c.http === "string"
      ? { ...common, kind: "http", url: c.http, method: "GET" }
      : { ...common, kind: "http", ...c.http };
  }
  if (c.postgres !== undefined) return { ...common, kind: "postgres", url: c.postgres };
  if (c.redis !== undefined) return { ...common, kind: "redis", url: c.redis };
  if (c.resources !== undefined) return { ...common, kind: "resources", ...c.resources };
  if (c.gpu !== undefined) return { ...common, kind: "gpu", ...c.gpu };
  if (c.tls !== undefined) {
    return typeof c.tls === "string"
      ? { ...common, kind: "tls", host: c.tls, minDays: 14 }
      : { ...common, kind: "tls", ...c.tls };
  }
  if (c.secretAge !== undefined) return { ...common, kind: "secretAge", maxAge: c.secretAge };
  const items = c.confirm ?? [];
  return { ...common, kind: "confirm", items: typeof items === "string" ? [items] : items };
}

/**
 * An environment's entry over the top-level check of the same name: its fields change that
 * check's (`severity: error` in production), unless it names another kind of check, which then
 * replaces it (no check may end up with two kind keys).
 */
export function checkMerge(base: unknown, over: unknown): unknown {
  if (!isObj(base) || !isObj(over)) return over;
  const kindOf = (c: Record<string, unknown>) => KINDS.find((k) => c[k] !== undefined);
  const overKind = kindOf(over);
  if (overKind !== undefined && overKind !== kindOf(base)) return over;
  return deepMerge(base, over);
}

export const checkOverrideSchema = z
  .looseObject({
    name: z.string().min(1).describe("The check changed (a top-level check's name), or a new check's."),
    enabled: z
      .boolean()
      .optional()
      .describe("false: the top-level check of this name is not run in this environment."),
  })
  .describe(
    "A check of this environment, merged by name over the top-level check of that name (only the " +
      "fields given change; another kind key replaces it), `enabled: false` to leave it out here, " +
      "or a new check added at the end of the checklist.",
  );

export const checkSchema = checkObject
  .superRefine((c, ctx) => {
    const present = KINDS.filter((k) => c[k] !== undefined);
    if (present.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message:
          present.length === 0
            ? `a check needs one kind key: ${KINDS.join(", ")}`
            : `a check has exactly one kind key, found ${present.join(" and ")}: split it into separate checks`,
      });
    }
  })
  .transform(normalize)
  .describe(
    "One pre-flight check: exactly one of command, env, tcp, http, postgres, redis, resources, gpu, tls, confirm, secretAge, " +
      "plus optional name, timeout and severity.",
  );
