/** Fixtures shared by the store conformance suites (store.case.ts, state.case.ts). */
import type { Instance } from "../drivers/driver.js";
import type { EventRecord, LockInfo, Revision, Store } from "./store.js";

export interface StoreFixture {
  /** A new connection to the fixture's database (migrating it when new). */
  open(): Promise<Store>;
  /** Remove the database; stores opened by the suite are closed before this is called. */
  dispose(): Promise<void>;
}

type NewRevision = Omit<Revision, "number" | "createdAt">;

export function newRevision(over: Partial<NewRevision> = {}): NewRevision {
  return {
    project: "shop",
    env: "staging",
    version: "v1",
    status: "in-progress",
    snapshot: { services: { api: { env: { DATABASE_URL: "${DATABASE_URL}" } } }, list: [1, "two", null] },
    services: ["api", "web"],
    actor: "alice",
    description: "deploy v1",
    skipChecks: false,
    facts: {},
    ...over,
  };
}

export function instance(over: Partial<Instance> = {}): Instance {
  return {
    id: "api-stable-0",
    project: "shop",
    env: "staging",
    service: "api",
    revision: 1,
    version: "v1",
    slot: "stable",
    index: 0,
    state: "running",
    host: "127.0.0.1",
    port: 41000,
    pid: 1234,
    appPid: 1235,
    startedAt: "2024-05-01T10:00:00.000Z",
    restarts: 0,
    meta: { startTime: 987654, release: "/x/releases/1" },
    ...over,
  };
}

export function lock(over: Partial<LockInfo> = {}): LockInfo {
  return {
    project: "shop",
    env: "staging",
    holder: "daemon:host:100",
    operation: "deploy",
    pid: 100,
    acquiredAt: "2024-05-01T10:00:00.000Z",
    ...over,
  };
}

export function event(over: Partial<EventRecord> = {}): EventRecord {
  return {
    project: "shop",
    env: "staging",
    time: "2024-05-01T10:00:00.000Z",
    kind: "deploy.started",
    severity: "info",
    message: "deploy started",
    ...over,
  };
}
