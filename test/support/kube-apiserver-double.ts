/**
 * A Kubernetes API server DOUBLE for tests: an in-process HTTP server that @kubernetes/client-node
 * and the real kubectl talk to through a generated kubeconfig. It is not Kubernetes; it follows the
 * documented API semantics of the objects Slipway uses (docs/kubernetes.md lists them):
 * discovery (/api, /apis, /version), namespaces (objects need an existing namespace), get / list
 * (label and field selectors) / create / replace (resourceVersion conflicts) / delete, JSON merge
 * and strategic merge patches (lists replaced), server-side apply with field managers and conflicts
 * (kube-double-store.ts), watch from a resourceVersion, pod logs, and the status progression of
 * Deployments, StatefulSets, Jobs and pods (kube-double-controllers.ts). HPAs are stored, never acted on.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parse as parseYaml } from "yaml";
import { DoubleControllers, type PodBehaviour } from "./kube-double-controllers.js";
import { ApiError, DoubleStore, mergePatch, type Obj } from "./kube-double-store.js";

interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}
const T = (
  group: string,
  version: string,
  plural: string,
  kind: string,
  namespaced = true,
): ResourceType => ({
  group,
  version,
  plural,
  kind,
  namespaced,
});
export const RESOURCES: ResourceType[] = [
  T("", "v1", "namespaces", "Namespace", false),
  T("", "v1", "pods", "Pod"),
  T("", "v1", "services", "Service"),
  T("", "v1", "secrets", "Secret"),
  T("", "v1", "configmaps", "ConfigMap"),
  T("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
  T("", "v1", "events", "Event"),
  T("apps", "v1", "deployments", "Deployment"),
  T("apps", "v1", "statefulsets", "StatefulSet"),
  T("apps", "v1", "replicasets", "ReplicaSet"),
  T("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
  T("batch", "v1", "jobs", "Job"),
  T("networking.k8s.io", "v1", "ingresses", "Ingress"),
];
const VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"];
const gv = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);
const storeKey = (t: ResourceType) => `${t.group}/${t.plural}`;

interface Route {
  type: ResourceType;
  ns?: string;
  name?: string;
  sub?: string;
}

/** /api/v1/namespaces/NS/pods/NAME/log → its parts; undefined when no resource matches. */
function route(path: string): Route | undefined {
  const parts = path.split("/").filter(Boolean);
  let group = "";
  let rest: string[];
  if (parts[0] === "api") rest = parts.slice(2);
  else if (parts[0] === "apis") {
    group = parts[1] ?? "";
    rest = parts.slice(3);
  } else return undefined;
  const version = parts[0] === "api" ? parts[1] : parts[2];
  let ns: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    ns = rest[1];
    rest = rest.slice(2);
  }
  const type = RESOURCES.find((t) => t.group === group && t.version === version && t.plural === rest[0]);
  return type ? { type, ns, name: rest[1], sub: rest[2] } : undefined;
}

function matchesLabels(o: Obj, selector: string | null): boolean {
  if (!selector) return true;
  const labels = o.metadata?.labels ?? {};
  return selector.split(",").every((term) => {
    const t = term.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([^!=]+)!=(.*)$/.exec(t))) return labels[m[1] as string] !== m[2];
    if ((m = /^([^!=]+)==?(.*)$/.exec(t))) return labels[m[1] as string] === m[2];
    if (t.startsWith("!")) return !(t.slice(1) in labels);
    return t in labels;
  });
}
function matchesFields(o: Obj, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(",").every((term) => {
    const [k, v] = term.split("=") as [string, string];
    if (k === "metadata.name") return o.metadata?.name === v;
    if (k === "metadata.namespace") return o.metadata?.namespace === v;
    return true;
  });
}

export interface DoubleOptions {
  /** What a pod with this image does (default: becomes ready at once). */
  behaviour?: (image: string) => PodBehaviour;
}

export class KubeApiServerDouble {
  readonly store = new DoubleStore();
  readonly requests: { method: string; path: string; contentType?: string }[] = [];
  private readonly controllers: DoubleControllers;
  private readonly rules: [RegExp, PodBehaviour][] = [];
  private server?: Server;
  private readonly streams = new Set<ServerResponse>();
  url = "";

  constructor(private readonly opts: DoubleOptions = {}) {
    this.controllers = new DoubleControllers(this.store, (image) => this.behaviourOf(image));
  }

  /** Pods whose image matches `pattern` behave so (the latest matching rule wins). */
  behave(pattern: RegExp | string, b: PodBehaviour): void {
    this.rules.unshift([
      typeof pattern === "string" ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : pattern,
      b,
    ]);
  }
  private behaviourOf(image: string): PodBehaviour {
    return this.rules.find(([re]) => re.test(image))?.[1] ?? this.opts.behaviour?.(image) ?? {};
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.store.put("/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "default" },
      status: { phase: "Active" },
    });
    return this;
  }

  async close(): Promise<void> {
    this.controllers.close();
    for (const s of this.streams) s.end();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /**
   * A kubeconfig whose context `context` points at cluster `cluster` on this double (plain HTTP on
   * loopback; client-node allows http only with insecure-skip-tls-verify).
   */
  kubeconfig(opts: { context?: string; cluster?: string; current?: string } = {}): string {
    const context = opts.context ?? "double";
    const cluster = opts.cluster ?? "double-cluster";
    return [
      "apiVersion: v1",
      "kind: Config",
      `clusters: [{ name: ${cluster}, cluster: { server: "${this.url}", insecure-skip-tls-verify: true } }]`,
      `users: [{ name: double-user, user: { token: double-token } }]`,
      `contexts: [{ name: ${context}, context: { cluster: ${cluster}, user: double-user } }]`,
      `current-context: ${opts.current ?? context}`,
      "",
    ].join("\n");
  }

  /** Objects of a kind as stored (tests look at them directly). */
  objects(plural: string, ns?: string): Obj[] {
    const t = RESOURCES.find((r) => r.plural === plural);
    if (!t) throw new Error(`unknown resource ${plural}`);
    return this.store.list(storeKey(t), ns);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://double");
    this.requests.push({
      method: req.method ?? "GET",
      path: url.pathname,
      contentType: req.headers["content-type"],
    });
    try {
      const body = await readBody(req);
      const discovery = this.discovery(url.pathname);
      if (discovery) return send(res, 200, discovery);
      const r = route(url.pathname);
      if (!r)
        throw new ApiError(
          404,
          "NotFound",
          `the server could not find the requested resource (${url.pathname})`,
        );
      await this.resource(req, res, url, r, body);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, "InternalError", (e as Error).message);
      send(res, err.code, {
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        message: err.message,
        reason: err.reason,
        code: err.code,
      });
    }
  }

  private discovery(path: string): unknown {
    if (path === "/version")
      return { major: "1", minor: "33", gitVersion: "v1.33.0-slipway-double", platform: "linux/amd64" };
    if (path === "/api") return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] };
    const groups = [...new Set(RESOURCES.filter((t) => t.group).map(gv))];
    if (path === "/apis")
      return {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: groups.map((g) => {
          const [name, version] = g.split("/") as [string, string];
          return {
            name,
            versions: [{ groupVersion: g, version }],
            preferredVersion: { groupVersion: g, version },
          };
        }),
      };
    const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))\/?$/.exec(path);
    if (!m) return undefined;
    const groupVersion = m[1] ?? (m[2] as string);
    const types = RESOURCES.filter((t) => gv(t) === groupVersion);
    if (!types.length) return undefined;
    const resources = types.flatMap((t) => [
      {
        name: t.plural,
        singularName: t.kind.toLowerCase(),
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: VERBS,
      },
      {
        name: `${t.plural}/status`,
        singularName: "",
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: ["get", "patch", "update"],
      },
      ...(t.plural === "pods"
        ? [{ name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] }]
        : []),
    ]);
    return { kind: "APIResourceList", apiVersion: "v1", groupVersion, resources };
  }

  private async resource(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    r: Route,
    body: string,
  ): Promise<void> {
    const key = storeKey(r.type);
    const method = req.method ?? "GET";
    const q = url.searchParams;
    const { ns, name } = r;
    if (r.type.plural === "namespaces" && name === undefined && ns)
      return this.resource(req, res, url, { ...r, name: ns, ns: undefined }, body);
    if (r.type.namespaced && ns && method !== "GET" && !this.store.get("/namespaces", undefined, ns))
      throw new ApiError(404, "NotFound", `namespaces "${ns}" not found`);
    if (method === "GET" && !name) {
      const items = this.store
        .list(key, ns)
        .filter((o) => matchesLabels(o, q.get("labelSelector")) && matchesFields(o, q.get("fieldSelector")));
      if (q.get("watch") === "true" || q.get("watch") === "1") return this.watch(res, key, ns, q, items);
      return send(res, 200, {
        kind: `${r.type.kind}List`,
        apiVersion: gv(r.type),
        metadata: { resourceVersion: String(this.store.resourceVersion) },
        items,
      });
    }
    if (!name && method !== "POST") throw new ApiError(405, "MethodNotAllowed", `${method} needs a name`);
    const existing = name ? this.store.get(key, r.type.namespaced ? ns : undefined, name) : undefined;
    const nsOf = r.type.namespaced ? ns : undefined;
    const typed = (o: Obj): Obj => ({
      ...o,
      apiVersion: gv(r.type),
      kind: r.type.kind,
      metadata: { ...o.metadata, name: o.metadata?.name ?? name, ...(nsOf ? { namespace: nsOf } : {}) },
    });
    switch (method) {
      case "GET":
        if (!existing) throw new ApiError(404, "NotFound", `${r.type.plural} "${name}" not found`);
        if (r.sub === "log") return sendText(res, this.logsOf(existing, q));
        return send(res, 200, existing);
      case "POST": {
        const obj = typed(normalize(parseBody(body)));
        return send(res, 201, this.store.create(key, withDefaults(r.type, obj)));
      }
      case "PUT": {
        if (!existing) throw new ApiError(404, "NotFound", `${r.type.plural} "${name}" not found`);
        const obj = typed(normalize(parseBody(body)));
        if (r.sub === "status")
          return send(res, 200, this.store.put(key, { ...existing, status: obj.status }));
        return send(
          res,
          200,
          this.store.put(
            key,
            { ...obj, status: existing.status },
            { expectRv: obj.metadata?.resourceVersion },
          ),
        );
      }
      case "PATCH":
        return this.patch(res, req, key, r, typed, existing, body, q);
      case "DELETE": {
        if (r.type.plural === "namespaces")
          for (const t of RESOURCES.filter((x) => x.namespaced))
            for (const o of this.store.list(storeKey(t), name))
              this.store.delete(storeKey(t), name, o.metadata?.name as string);
        const gone = this.store.delete(key, nsOf, name as string);
        return send(res, 200, gone);
      }
      default:
        throw new ApiError(405, "MethodNotAllowed", `${method} is not supported`);
    }
  }

  private patch(
    res: ServerResponse,
    req: IncomingMessage,
    key: string,
    r: Route,
    typed: (o: Obj) => Obj,
    existing: Obj | undefined,
    body: string,
    q: URLSearchParams,
  ): void {
    const type = (req.headers["content-type"] ?? "").split(";")[0];
    if (type === "application/apply-patch+yaml") {
      const manager = q.get("fieldManager");
      if (!manager)
        throw new ApiError(400, "BadRequest", "PATCH with apply-patch+yaml requires fieldManager");
      const obj = typed(normalize(parseYaml(body) as Obj));
      const { obj: saved, created } = this.store.apply(
        key,
        withDefaults(r.type, obj),
        manager,
        q.get("force") === "true",
      );
      return send(res, created ? 201 : 200, saved);
    }
    if (type === "application/merge-patch+json" || type === "application/strategic-merge-patch+json") {
      if (!existing) throw new ApiError(404, "NotFound", `${r.type.plural} "${r.name}" not found`);
      const patched = normalize(mergePatch(existing, parseBody(body)) as Obj);
      if (r.sub === "status")
        return send(res, 200, this.store.put(key, { ...existing, status: patched.status }));
      return send(res, 200, this.store.put(key, { ...patched, status: existing.status }));
    }
    throw new ApiError(415, "UnsupportedMediaType", `the double does not support ${type} patches`);
  }

  private watch(
    res: ServerResponse,
    key: string,
    ns: string | undefined,
    q: URLSearchParams,
    current: Obj[],
  ): void {
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    this.streams.add(res);
    const from = q.get("resourceVersion");
    const fits = (o: Obj) =>
      (ns === undefined || o.metadata?.namespace === ns) &&
      matchesLabels(o, q.get("labelSelector")) &&
      matchesFields(o, q.get("fieldSelector"));
    const write = (type: string, object: Obj) => res.write(`${JSON.stringify({ type, object })}\n`);
    if (!from || from === "0") for (const o of current) write("ADDED", o);
    else
      for (const e of this.store.history)
        if (e.rv > Number(from) && e.resource === key && fits(e.object)) write(e.type, e.object);
    const off = this.store.subscribe((e) => {
      if (e.resource === key && fits(e.object)) write(e.type, e.object);
    });
    const end = () => {
      off();
      this.streams.delete(res);
      res.end();
    };
    const timeout = Number(q.get("timeoutSeconds") ?? 0);
    if (timeout > 0) setTimeout(end, timeout * 1000).unref();
    res.on("close", end);
  }

  private logsOf(pod: Obj, q: URLSearchParams): string {
    const image = (pod.spec as { containers?: { image: string }[] }).containers?.[0]?.image ?? "";
    const b = this.behaviourOf(image);
    const lines =
      b.logs ?? (b.crash ? ["Error: the application crashed (double)"] : [`started ${image} (double)`]);
    const tail = Number(q.get("tailLines") ?? 0);
    const out = tail > 0 ? lines.slice(-tail) : lines;
    return (
      out.map((l) => (q.get("timestamps") === "true" ? `${new Date().toISOString()} ${l}` : l)).join("\n") +
      "\n"
    );
  }
}

/** What the API server fills in on write: Secret stringData → data, a Service's clusterIP, a namespace's phase. */
function withDefaults(t: ResourceType, o: Obj): Obj {
  if (t.kind === "Secret" && o.stringData) {
    const data = { ...((o.data as Record<string, string>) ?? {}) };
    for (const [k, v] of Object.entries(o.stringData as Record<string, string>))
      data[k] = Buffer.from(v).toString("base64");
    const { stringData: _s, ...rest } = o;
    return { ...rest, data };
  }
  if (t.kind === "Service") return { ...o, spec: { clusterIP: "10.96.0.10", ...(o.spec as object) } };
  if (t.kind === "Namespace") return { ...o, status: { phase: "Active" } };
  return o;
}
const normalize = (o: Obj): Obj => ({ ...o, metadata: { ...(o.metadata ?? {}) } });
const parseBody = (body: string): Obj => (body ? (JSON.parse(body) as Obj) : {});

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
function sendText(res: ServerResponse, text: string): void {
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(text);
}

export async function startKubeDouble(opts: DoubleOptions = {}): Promise<KubeApiServerDouble> {
  return new KubeApiServerDouble(opts).start();
}
