/**
 * The store contract: revisions, the deployment journal, instances, locks, events, (in
 * records.ts) the backup catalog and alert silences, and (through `outbox`) the alert outbox.
 * SQLite by default (store/sqlite/), PostgreSQL when SLIPWAY_DATABASE_URL is set; one
 * conformance suite (store/store.case.ts) runs against every implementation.
 */
import type { Instance } from "../drivers/driver.js";
import type { RecordStore } from "./records.js";
import type { AuthStore } from "./users.js";
import type { Sql } from "./sql.js";

/**
 * "completed" is the end of an operation that is not a release (a restore, facts.operation): it
 * is in the history with its journal, and never the deployed revision or a rollback's target.
 */
export type RevisionStatus =
  "in-progress" | "deployed" | "superseded" | "failed" | "rolled-back" | "completed";

/** The data half of a `rollback --with-db`, kept in the rollback revision (a later one skips it). */
export interface DataRollbackFacts {
  /** The revisions whose data change was undone. */
  revisions?: number[];
  steps?: unknown[];
}

/**
 * What a deploy records in its revision. Known keys are typed; components may add their own
 * (the index signature), read back as unknown.
 */
export interface RevisionFacts {
  /** The revision deployed before this one. */
  previous?: number;
  /** Per service: the revision whose artifact it runs (a rollback reuses the original one). */
  artifacts?: Record<string, number>;
  /** Per service: the id of the backup taken before this revision deployed. */
  backups?: Record<string, string>;
  /** The id of the snapshot of the release this revision replaced. */
  releaseBackup?: string;
  /** Services whose `migrate.up` ran. */
  migrations?: Record<string, boolean>;
  /** A `rollback --with-db`: what its data half returned. */
  dataRollback?: DataRollbackFacts;
  /** Pre-flight check results. */
  checks?: unknown[];
  /** Analysis evidence (engine/analysis-gate.ts evidenceOf reads it). */
  analysis?: unknown[];
  /** What a failed deploy undid. */
  undo?: unknown;
  /** Service → fingerprint of its resolved spec and source (engine/carry.ts). */
  fingerprints?: Record<string, string>;
  /** Service → the earlier revision whose instances it kept running. */
  carried?: Record<string, number>;
  /** What made an automatic rollback (the watch's breach). */
  trigger?: Record<string, unknown>;
  /** Set when the row records an operation that is not a release (code and services unchanged). */
  operation?: "restore";
  /** A restore: the backup, its service, and the token naming its staged data (backup/provider.ts). */
  restore?: { backup: string; service: string; token: string };
  [key: string]: unknown;
}

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
  /** What the deploy recorded (backup ids, migrations, artifacts, check results …). */
  facts: RevisionFacts;
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
  /** Every environment with a revision (deployed, failed or destroyed), sorted by project and name. */
  revisedEnvironments(): Promise<{ project: string; env: string }[]>;
  /** Environments an interrupted operation may have left half done: a revision in progress or a lock. */
  unfinishedEnvironments(): Promise<{ project: string; env: string }[]>;

  /** Take the environment lock or return the current holder (also when the holder is the caller). */
  acquireLock(lock: LockInfo): Promise<{ ok: true } | { ok: false; holder: LockInfo }>;
  /**
   * With `holder`, releases only that holder's lock; without, releases whatever holds it
   * (`slipway lock ENV --release`). True when a lock was removed.
   */
  releaseLock(project: string, env: string, holder?: string): Promise<boolean>;
  getLock(project: string, env: string): Promise<LockInfo | undefined>;
  /**
   * Replace the lock of `staleHolder` by `lock` in one statement; false when another caller took
   * it over (or released it) first: of two callers racing on a stale lock, one wins.
   */
  takeOverLock(lock: LockInfo, staleHolder: string): Promise<boolean>;

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

  /** Users, API tokens and dashboard sessions (users.ts). */
  readonly auth: AuthStore;
  /**
   * The alert outbox (tables outboxes and outbox_*): a transactional SQL handle the notifier
   * runs its statements on, the same on both implementations (sql.ts says why a handle).
   */
  readonly outbox: Sql;

  /** Small key/value area for components (proxy ports, daemon facts). */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  close(): Promise<void>;
}
