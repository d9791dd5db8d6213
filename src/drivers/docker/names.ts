/** Names and labels of the Docker objects Slipway creates; inspect() rebuilds state from these. */
import type { RetireReason } from "../driver.js";

export const LABELS = {
  project: "slipway.project",
  env: "slipway.env",
  service: "slipway.service",
  revision: "slipway.revision",
  version: "slipway.version",
  slot: "slipway.slot",
  index: "slipway.index",
  /** The container port the service listens on (PORT), to find its published host port. */
  port: "slipway.port",
  /** The host entry (ssh string, or "local") that started the container. */
  host: "slipway.host",
  /** One-off containers (migrations) are not instances. */
  oneoff: "slipway.oneoff",
} as const;

/** Lower-case and replace what Docker refuses in names and repositories. */
export function sanitize(s: string): string {
  const out = s
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "");
  return out || "x";
}

/**
 * By revision and replica index, not slot: an instance is started as the candidate and keeps its
 * name when it is promoted (the slot is a label and a store field, shown by `status`).
 */
export function containerName(
  project: string,
  env: string,
  service: string,
  revision: number,
  index: number,
): string {
  return `${sanitize(project)}-${sanitize(env)}-${sanitize(service)}-r${revision}-${index}`;
}

/**
 * The name a stopped container is kept under. Labels cannot change after a container is created, so
 * the name carries the mark: inspect() skips these, and the original name is free for a new
 * container (an undo restarts the same revision and slot); the stamp keeps two retirements of the
 * same instance apart.
 */
export function retiredName(name: string, reason: RetireReason, now = Date.now()): string {
  return `${name}.${reason}.${now.toString(36)}`;
}

/** Why a container was kept, from its name ("/x-…-r3-0.failed.lq2…"); undefined: not retired. */
export function retiredReason(name: string): RetireReason | undefined {
  const m = /-\d+\.(superseded|failed)\.[0-9a-z]+$/.exec(name);
  return m ? (m[1] as RetireReason) : undefined;
}

/** One network per project and environment; services reach each other by service name. */
export function networkName(project: string, env: string): string {
  return `slipway-${sanitize(project)}-${sanitize(env)}`;
}

/** The repository Slipway tags each revision's image with, so a rollback needs no pull. */
export function imageRepository(project: string, env: string, service: string): string {
  return `slipway/${sanitize(project)}-${sanitize(env)}-${sanitize(service)}`;
}

export function imageRef(project: string, env: string, service: string, revision: number): string {
  return `${imageRepository(project, env, service)}:r${revision}`;
}

/** Named volumes are scoped to project and environment (as Compose scopes them to its project). */
export function volumeName(project: string, env: string, name: string): string {
  return `${sanitize(project)}-${sanitize(env)}-${sanitize(name)}`;
}
