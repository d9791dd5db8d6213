/**
 * The store contract: revisions, the deployment journal, instances, locks, events, and (in
 * records.ts) the backup catalog and alert silences.
 * SQLite by default (store/sqlite/), PostgreSQL when SLIPWAY_DATABASE_URL is set; one
 * conformance suite (store/store.case.ts) runs against every implementation.
 */
import type { Instance } from "../drivers/driver.js";
import type { RecordStore } from "./records.js";

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

export interface Store extends RecordStore {
  /** Next revision number for an environment (1, 2, …), reserved atomically across connections. */
  createRevision(rev: Omit<Revision, "number" | "createdAt">): Promise<Revision>;
  /** Changes only the given fields (facts is replaced, not merged); throws StoreError if missing. */
  updateRevision(
    project: string,
    env: string,
    number: number,
    patch: Partial<Pick<Revision, "status" | "finishedAt" | "reason" | "facts">>,
  ): Promise<void>;
  getRevision(project: string, env: string, number: number): Promise<Revision | undefined>;
  /** Newest first. */
  listRevisions(project: string, env: string, opts?: { limit?: number }): Promise<Revision[]>;
  /** The newest revision with status "deployed". */
  currentRevision(project: string, env: string): Promise<Revision | undefined>;

  /** Appending a (revision, seq) that exists replaces it, so recovery may re-journal a step. */
  journalAppend(step: JournalStep): Promise<void>;
  /** Changes only the given fields; throws StoreError when the step does not exist. */
  journalUpdate(
    project: string,
    env: string,
    revision: number,
    seq: number,
    patch: Partial<JournalStep>,
  ): Promise<void>;
  /** Steps of one revision in plan order (seq ascending). */
  journal(project: string, env: string, revision: number): Promise<JournalStep[]>;

  /** Insert or replace (by project, env, id). */
  putInstance(inst: Instance): Promise<void>;
  removeInstance(project: string, env: string, id: string): Promise<void>;
  listInstances(project: string, env?: string): Promise<Instance[]>;
  /** Every instance of every project (the daemon adopts them at start). */
  allInstances(): Promise<Instance[]>;

  /** Take the environment lock or return the current holder (also when the holder is the caller). */
  acquireLock(lock: LockInfo): Promise<{ ok: true } | { ok: false; holder: LockInfo }>;
  /**
   * With `holder`, releases only that holder's lock; without, releases whatever holds it
   * (`slipway lock ENV --release`). True when a lock was removed.
   */
  releaseLock(project: string, env: string, holder?: string): Promise<boolean>;
  getLock(project: string, env: string): Promise<LockInfo | undefined>;

  /** Returns the new event's id; ids increase. */
  addEvent(e: EventRecord): Promise<number>;
  /**
   * Oldest first. With `afterId`: the first `limit` events after it (tailing, SSE resume).
   * Without: the newest `limit` events (all when no limit).
   */
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
