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
import {
  discovery,
  gv,
  matchesFields,
  matchesLabels,
  normalize,
  parseBody,
  readBody,
  RESOURCES,
  route,
  send,
  sendText,
  storeKey,
  withDefaults,
  type Route,
} from "./kube-double-api.js";

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
      const doc = discovery(url.pathname);
      if (doc) return send(res, 200, doc);
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

export async function startKubeDouble(opts: DoubleOptions = {}): Promise<KubeApiServerDouble> {
  return new KubeApiServerDouble(opts).start();
}
