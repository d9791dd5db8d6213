/**
 * The light half of the public surface: what a client (the CLI) needs before it knows whether
 * it will run anything — errors and exit codes, the operations' wire format, units, paths, the
 * spec reference that read-only commands send — and loaders for the heavy halves, so that
 * `slipway status` never pays for the schema, the engine or the drivers. Nothing imported here
 * statically may pull in zod, the engine, a driver or a store (test/boundaries.test.ts).
 * src/index.ts re-exports all of it with the rest of the API.
 */
export { localActor } from "./actor.js";
export {
  OP_ROLES,
  PRINCIPAL_ROLES,
  ROLES,
  ROLE_SUMMARY,
  atLeast,
  isPrincipalRole,
  isRole,
  refusal,
  requirementOf,
  roleIn,
  type Grants,
  type Principal,
  type PrincipalRole,
  type Role,
} from "./op-roles.js";
export { formatThreshold, formatValue } from "./analysis/format.js";
export { evidenceOf } from "./engine/evidence.js";
export {
  CheckFailed,
  DriverError,
  Interrupted,
  LockHeld,
  OperationFailed,
  Refused,
  SlipwayError,
  SpecError,
  UsageError,
  errorMessage,
} from "./errors.js";
export { EXIT, exitCodeFor, exitCodeOf } from "./exit-codes.js";
export { formatMs } from "./health/signal.js";
export {
  OPS,
  fromWire,
  runOp,
  toWire,
  toWireError,
  type OpContext,
  type OpName,
  type OpPayload,
  type WireError,
} from "./operations.js";
export { confirmationName } from "./spec/confirmation-name.js";
export { lightRef, lightSpec } from "./spec/env-reference.js";
export { withCallerKubeconfig } from "./spec/kubeconfig-path.js";
export { ensurePrivateHome, slipwayHome } from "./util/home.js";
export { formatBytes, formatDuration, parseDuration } from "./util/units.js";

/** The spec tools (YAML with positions, the zod schema, resolve). */
export const loadSpecTools = () => import("./spec-tools.js");

/** The spec's rarely used tools: the JSON Schema and the Compose import. */
export const loadSpecExtras = () => import("./spec-extras.js");

/** Run this process as the proxy (`slipway proxy`): a small process of its own (DESIGN §5). */
export const runProxyProcess = () => import("./proxy/main.js");
/** SLIPWAY_PROXY_WORKERS as the proxy reads it: 1..64 or "auto" (the CPU count); throws on anything else. */
export { proxyWorkers } from "./proxy/cluster-ipc.js";
