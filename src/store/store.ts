/**
 * The store contract: revisions, the deployment journal, instances, locks and events.
 * SQLite by default (store/sqlite/), PostgreSQL when SLIPWAY_DATABASE_URL is set; one
 * conformance suite (store/store.case.ts) runs against every implementation.
 */
import type { Instance } from "../drivers/driver.js";

export type RevisionStatus = "in-progress" | "deployed" | "superseded" | "failed" | "rolled-back";

export interface Revision {
  project: string;
  env: string;
  number: number;
  version: string;
  status: RevisionStatus;
  /** The resolved spec with secret values replaced by their ${VAR} templates. */
  snapshot: unknown;
  /** Services this revision changed. */
  services: string[];
  actor: string;
  description: string;
  /** Set when the revision re-applies an earlier one. */
  rollbackOf?: number;
  skipChecks: boolean;
  createdAt: string;
  finishedAt?: string;
  /** Why it failed / was rolled back. */
  reason?: string;
  /** Free-form facts recorded during the deploy (backup ids, check results …). */
  facts: Record<string, unknown>;
}

export type StepStatus = "pending" | "running" | "ok" | "failed" | "skipped";

export interface JournalStep {
  project: string;
  env: string;
  revision: number;
  /** Position in the plan. */
  seq: number;
  kind: string;
  service?: string;
  description: string;
  status: StepStatus;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  message?: string;
  /** Data the step recorded for recovery (instance ids started, previous route …). */
  data?: Record<string, unknown>;
}

export interface LockInfo {
  project: string;
  env: string;
  holder: string;
  operation: string;
  pid: number;
  acquiredAt: string;
}

export interface EventRecord {
  id?: number;
  project: string;
  env: string;
  time: string;
  kind: string;
  severity: "info" | "warning" | "critical";
  service?: string;
  revision?: number;
  message: string;
  data?: Record<string, unknown>;
}

export interface Store {
  /** Next revision number for an environment, reserved atomically. */
  createRevision(rev: Omit<Revision, "number" | "createdAt">): Promise<Revision>;
  updateRevision(
    project: string,
    env: string,
    number: number,
    patch: Partial<Pick<Revision, "status" | "finishedAt" | "reason" | "facts">>,
  ): Promise<void>;
  getRevision(project: string, env: string, number: number): Promise<Revision | undefined>;
  listRevisions(project: string, env: string, opts?: { limit?: number }): Promise<Revision[]>;
  /** The newest revision with status "deployed". */
  currentRevision(project: string, env: string): Promise<Revision | undefined>;

  journalAppend(step: JournalStep): Promise<void>;
  journalUpdate(
    project: string,
    env: string,
    revision: number,
    seq: number,
    patch: Partial<JournalStep>,
  ): Promise<void>;
  journal(project: string, env: string, revision: number): Promise<JournalStep[]>;

  putInstance(inst: Instance): Promise<void>;
  removeInstance(project: string, env: string, id: string): Promise<void>;
  listInstances(project: string, env?: string): Promise<Instance[]>;
  /** Every instance of every project (the daemon adopts them at start). */
  allInstances(): Promise<Instance[]>;

  /** Take the environment lock or return the current holder. */
  acquireLock(lock: LockInfo): Promise<{ ok: true } | { ok: false; holder: LockInfo }>;
  releaseLock(project: string, env: string, holder?: string): Promise<boolean>;
  getLock(project: string, env: string): Promise<LockInfo | undefined>;

  addEvent(e: EventRecord): Promise<number>;
  listEvents(
    project: string,
    env?: string,
    opts?: { limit?: number; afterId?: number },
  ): Promise<EventRecord[]>;

  /** Small key/value area for components (proxy ports, daemon facts). */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  close(): Promise<void>;
}
