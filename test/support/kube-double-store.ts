/**
 * The object store of the Kubernetes API server DOUBLE (see kube-apiserver-double.ts): objects by
 * resource/namespace/name, one resourceVersion counter, a watch history, and server-side apply
 * with field managers. It follows the documented semantics of the API where Slipway and kubectl
 * depend on them; it is not a Kubernetes API server.
 *
 * Server-side apply, as documented (kubernetes.io/docs/reference/using-api/server-side-apply/):
 * every manager owns the leaf fields it applied (lists are atomic: a list is one field); an apply
 * that changes a field another manager owns is a 409 Conflict naming the field and the manager,
 * unless `force=true`, which takes ownership; fields a manager applied before and leaves out now
 * are removed when no other manager owns them.
 */
import { randomUUID } from "node:crypto";

export type Obj = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: Meta;
};
export interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { uid: string; kind: string; name: string; apiVersion: string; controller?: boolean }[];
  managedFields?: { manager: string; operation: string; fieldsType: string; fieldsV1: unknown }[];
  [k: string]: unknown;
}
export type EventType = "ADDED" | "MODIFIED" | "DELETED";
export interface WatchEvent {
  rv: number;
  resource: string;
  type: EventType;
  object: Obj;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
export const clone = <T>(v: T): T => structuredClone(v);

/** Leaf paths of an object (arrays are leaves), as dotted strings, with their values. */
function leaves(v: unknown, prefix = "", out = new Map<string, string>()): Map<string, string> {
  if (isObj(v) && Object.keys(v).length) {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}\u0000${k}` : k, out);
  } else if (prefix) out.set(prefix, JSON.stringify(v));
  return out;
}
function getPath(o: unknown, path: string): unknown {
  let cur = o;
  for (const k of path.split("\u0000")) cur = isObj(cur) ? cur[k] : undefined;
  return cur;
}
function deletePath(o: Record<string, unknown>, path: string): void {
  const keys = path.split("\u0000");
  const stack: Record<string, unknown>[] = [o];
  for (const k of keys.slice(0, -1)) {
    const next = stack[stack.length - 1]?.[k];
    if (!isObj(next)) return;
    stack.push(next);
  }
  delete stack[stack.length - 1]?.[keys[keys.length - 1] as string];
  // Drop the maps the removal left empty.
  for (let i = stack.length - 1; i > 0; i--)
    if (!Object.keys(stack[i] as object).length) delete stack[i - 1]?.[keys[i - 1] as string];
}

/** JSON merge patch (RFC 7386); strategic merge patches are treated as one (lists replaced). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Record<string, unknown> = isObj(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k.startsWith("$setElementOrder") || k.startsWith("$retainKeys")) continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** JSON patch (RFC 6902): add, replace, remove, test — what `kubectl rollout undo` sends. */
export function jsonPatch(target: unknown, ops: { op: string; path: string; value?: unknown }[]): unknown {
  const out = clone(target) as Record<string, unknown>;
  for (const { op, path, value } of ops) {
    const keys = path
      .split("/")
      .slice(1)
      .map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = keys.pop() as string;
    let cur: unknown = out;
    for (const k of keys) {
      if (!isObj(cur) && !Array.isArray(cur)) break;
      const c = cur as Record<string, unknown>;
      if (c[k] === undefined && op === "add") c[k] = {};
      cur = c[k];
    }
    if (!isObj(cur) && !Array.isArray(cur))
      throw new ApiError(422, "Invalid", `the JSON patch path ${path} does not exist`);
    const parent = cur as Record<string, unknown> & unknown[];
    if (op === "test") {
      if (JSON.stringify(parent[last]) !== JSON.stringify(value))
        throw new ApiError(422, "Invalid", `the JSON patch test at ${path} failed`);
    } else if (op === "remove") {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else if (op === "add" && Array.isArray(parent))
      parent.splice(last === "-" ? parent.length : Number(last), 0, clone(value));
    else if (op === "add" || op === "replace") parent[last] = clone(value);
    else throw new ApiError(422, "Invalid", `the double does not support the JSON patch op ${op}`);
  }
  return out;
}

const SYSTEM = new Set([
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "managedFields",
  "deletionTimestamp",
]);
/** The fields an apply may own: everything but status and system metadata. */
function appliedLeaves(o: Obj): Map<string, string> {
  const { status: _status, metadata, ...rest } = o;
  const meta = Object.fromEntries(Object.entries(metadata ?? {}).filter(([k]) => !SYSTEM.has(k)));
  return leaves({ ...rest, metadata: meta });
}

export class DoubleStore {
  private rv = 0;
  private readonly objects = new Map<string, Obj>();
  /** manager → owned leaf paths, per object key. */
  private readonly owners = new Map<string, Map<string, Set<string>>>();
  readonly history: WatchEvent[] = [];
  private readonly listeners = new Set<(e: WatchEvent) => void>();

  get resourceVersion(): number {
    return this.rv;
  }
  private key = (resource: string, ns: string | undefined, name: string) => `${resource}/${ns ?? ""}/${name}`;

  get(resource: string, ns: string | undefined, name: string): Obj | undefined {
    const o = this.objects.get(this.key(resource, ns, name));
    return o && clone(o);
  }
  list(resource: string, ns?: string): Obj[] {
    const prefix = `${resource}/${ns ?? ""}/`;
    return [...this.objects.entries()]
      .filter(([k]) => (ns === undefined ? k.startsWith(`${resource}/`) : k.startsWith(prefix)))
      .map(([, o]) => clone(o));
  }
  subscribe(fn: (e: WatchEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(resource: string, type: EventType, object: Obj): void {
    const e = { rv: this.rv, resource, type, object: clone(object) };
    this.history.push(e);
    if (this.history.length > 5000) this.history.shift();
    for (const fn of this.listeners) fn(e);
  }

  /** Write an object: bumps resourceVersion (and generation when the spec changed), emits the event. */
  put(resource: string, obj: Obj, opts: { expectRv?: string } = {}): Obj {
    const m = obj.metadata ?? {};
    const name = m.name as string;
    const k = this.key(resource, m.namespace, name);
    const old = this.objects.get(k);
    if (opts.expectRv && old && old.metadata?.resourceVersion !== opts.expectRv)
      throw new ApiError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    const next = clone(obj);
    next.metadata = {
      ...m,
      uid: old?.metadata?.uid ?? m.uid ?? randomUUID(),
      creationTimestamp: old?.metadata?.creationTimestamp ?? new Date().toISOString(),
      resourceVersion: String(++this.rv),
      generation: !old
        ? 1
        : (old.metadata?.generation ?? 1) + (JSON.stringify(old.spec) !== JSON.stringify(next.spec) ? 1 : 0),
    };
    this.objects.set(k, next);
    this.emit(resource, old ? "MODIFIED" : "ADDED", next);
    return clone(next);
  }

  create(resource: string, obj: Obj): Obj {
    const m = obj.metadata ?? {};
    if (this.objects.has(this.key(resource, m.namespace, m.name as string)))
      throw new ApiError(409, "AlreadyExists", `${resource} "${m.name}" already exists`);
    return this.put(resource, obj);
  }

  delete(resource: string, ns: string | undefined, name: string): Obj {
    const k = this.key(resource, ns, name);
    const old = this.objects.get(k);
    if (!old) throw new ApiError(404, "NotFound", `${resource} "${name}" not found`);
    this.objects.delete(k);
    this.owners.delete(k);
    this.rv++;
    old.metadata = { ...old.metadata, resourceVersion: String(this.rv) };
    this.emit(resource, "DELETED", old);
    return clone(old);
  }

  /** Server-side apply of `obj` by `manager`; see the file comment for the semantics. */
  apply(resource: string, obj: Obj, manager: string, force: boolean): { obj: Obj; created: boolean } {
    const m = obj.metadata ?? {};
    const k = this.key(resource, m.namespace, m.name as string);
    const old = this.objects.get(k);
    const owners = this.owners.get(k) ?? new Map<string, Set<string>>();
    const mine = appliedLeaves(obj);
    const conflicts: string[] = [];
    for (const [path, value] of mine) {
      const current = old ? getPath(old, path) : undefined;
      if (current === undefined || JSON.stringify(current) === value) continue;
      for (const [other, fields] of owners)
        if (other !== manager && fields.has(path))
          conflicts.push(`conflict with "${other}": .${path.split("\u0000").join(".")}`);
    }
    if (conflicts.length && !force)
      throw new ApiError(
        409,
        "Conflict",
        `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? "s" : ""}: ${conflicts.join("; ")}`,
      );
    let base: Record<string, unknown> = old ? clone(old) : {};
    // Fields this manager applied before and leaves out now go, unless someone else owns them.
    for (const path of owners.get(manager) ?? [])
      if (!mine.has(path) && ![...owners].some(([o, f]) => o !== manager && f.has(path)))
        deletePath(base, path);
    base = mergePatch(base, { ...obj, metadata: { ...m } }) as Record<string, unknown>;
    for (const [other, fields] of owners)
      if (other !== manager) for (const p of mine.keys()) if (force) fields.delete(p);
    owners.set(manager, new Set(mine.keys()));
    this.owners.set(k, owners);
    const saved = this.put(resource, base as Obj);
    return { obj: saved, created: !old };
  }

  /** managedFields as the API reports them (one entry per manager, operation Apply). */
  managers(resource: string, ns: string | undefined, name: string): string[] {
    return [...(this.owners.get(this.key(resource, ns, name))?.keys() ?? [])];
  }
}
