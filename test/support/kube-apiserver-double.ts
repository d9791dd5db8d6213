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
import { DoubleControllers } from "./kube-double-controllers.js";
import { DoubleExec } from "./kube-double-exec.js";
import { DoublePods, type Container, type PodBehaviour } from "./kube-double-pods.js";
import { ApiError, DoubleStore, jsonPatch, mergePatch, type Obj } from "./kube-double-store.js";
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

export type { PodBehaviour } from "./kube-double-pods.js";

export interface DoubleOptions {
  /** What a pod with this image does (default: becomes ready at once). */
  behaviour?: (image: string) => PodBehaviour;
  /** Serve the metrics API (metrics.k8s.io/v1beta1 pods), as a cluster with metrics-server does. */
  metricsApi?: boolean;
}

/**
 * Which pods a behaviour applies to: by image (a RegExp or a substring), and/or by env values, and/or
 * by whether the pod is a Job's (`job: false`: a release's crash-looping pods, not its migration Job).
 */
export type PodMatch =
  RegExp | string | { image?: RegExp | string; env?: Record<string, string>; job?: boolean };

export class KubeApiServerDouble {
  readonly store = new DoubleStore();
  readonly requests: { method: string; path: string; contentType?: string; at: number }[] = [];
  readonly pods: DoublePods;
  private readonly controllers: DoubleControllers;
  private readonly exec: DoubleExec;
  private readonly rules: [(c: Container, ns: string | undefined, job: boolean) => boolean, PodBehaviour][] =
    [];
  private server?: Server;
  private readonly streams = new Set<ServerResponse>();
  url = "";

  constructor(private readonly opts: DoubleOptions = {}) {
    this.pods = new DoublePods(this.store, (c, ns, job) => this.behaviourOf(c, ns, job));
    this.controllers = new DoubleControllers(this.store, this.pods);
    this.exec = new DoubleExec(this.store, this.pods);
  }

  /**
   * Pods that match behave so from their next start (the latest matching rule wins): by image
   * (`"shop-api:3.0"`, a RegExp), or by env (`{ env: { CRASH: "1" } }`, values as the container
   * sees them, secrets included).
   */
  behave(match: PodMatch, b: PodBehaviour): void {
    const m = typeof match === "string" || match instanceof RegExp ? { image: match } : match;
    const image =
      typeof m.image === "string"
        ? (s: string) => s.includes(m.image as string)
        : (s: string) => (m.image as RegExp | undefined)?.test(s) ?? true;
    this.rules.unshift([
      (c, ns, job) => {
        if (!image(c.image)) return false;
        if (m.job !== undefined && m.job !== job) return false;
        const env = m.env ? this.pods.envOf(ns, c) : {};
        return Object.entries(m.env ?? {}).every(([k, v]) => env[k] === v);
      },
      b,
    ]);
  }
  private behaviourOf(c: Container, ns: string | undefined, job = false): PodBehaviour {
    return this.rules.find(([fits]) => fits(c, ns, job))?.[1] ?? this.opts.behaviour?.(c.image) ?? {};
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on("upgrade", (req, socket, head) => this.exec.upgrade(req, socket, head));
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
    this.exec.close();
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
      at: performance.now(),
    });
    try {
      const body = await readBody(req);
      const doc = discovery(url.pathname, { metrics: this.opts.metricsApi === true });
      if (doc) return send(res, 200, doc);
      if (this.opts.metricsApi && url.pathname.startsWith("/apis/metrics.k8s.io/"))
        return this.metrics(res, url.pathname);
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
    if (r.type.plural === "pods" && r.sub === "proxy") return this.proxy(res, ns, name as string);
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
        if (r.sub === "log") return this.logsOf(res, existing, q);
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
    if (
      type === "application/merge-patch+json" ||
      type === "application/strategic-merge-patch+json" ||
      type === "application/json-patch+json"
    ) {
      if (!existing) throw new ApiError(404, "NotFound", `${r.type.plural} "${r.name}" not found`);
      const patched = normalize(
        (type === "application/json-patch+json"
          ? jsonPatch(existing, JSON.parse(body) as never)
          : mergePatch(existing, parseBody(body))) as Obj,
      );
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
    res.flushHeaders(); // clients wait for the headers before they read (or cancel) a watch
    this.streams.add(res);
    const from = q.get("resourceVersion");
    const fits = (o: Obj) =>
      (ns === undefined || o.metadata?.namespace === ns) &&
      matchesLabels(o, q.get("labelSelector")) &&
      matchesFields(o, q.get("fieldSelector"));
    const write = (type: string, object: Obj) => res.write(`${JSON.stringify({ type, object })}\n`);
    const oldest = this.store.history[0]?.rv ?? this.store.resourceVersion;
    if (from && from !== "0" && Number(from) < oldest - 1) {
      write("ERROR", {
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason: "Expired",
        code: 410,
        message: `too old resource version: ${from} (${oldest})`,
      } as Obj);
      return void res.end();
    }
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

  /** GET …/pods/NAME/log from the log store: tailLines, sinceSeconds, timestamps, follow. */
  private logsOf(res: ServerResponse, pod: Obj, q: URLSearchParams): void {
    const ns = pod.metadata?.namespace;
    const name = pod.metadata?.name as string;
    const since = Number(q.get("sinceSeconds") ?? 0);
    let lines = this.pods
      .logs(ns, name)
      .filter((l) => !since || Date.parse(l.time) >= Date.now() - since * 1000);
    const tail = Number(q.get("tailLines") ?? -1);
    if (tail >= 0) lines = lines.slice(lines.length - tail);
    const fmt = (l: { time: string; line: string }) =>
      `${q.get("timestamps") === "true" ? `${l.time} ` : ""}${l.line}\n`;
    if (q.get("follow") !== "true") return sendText(res, lines.map(fmt).join(""));
    res.writeHead(200, { "content-type": "text/plain", "transfer-encoding": "chunked" });
    res.flushHeaders();
    this.streams.add(res);
    for (const l of lines) res.write(fmt(l));
    const off = this.pods.followLog(ns, name, (l) => (l ? res.write(fmt(l)) : res.end()));
    res.on("close", () => {
      off();
      this.streams.delete(res);
    });
  }

  /**
   * GET …/pods/NAME:PORT/proxy/…: the API server's proxy to a pod. No container listens, so the
   * double answers for it: 200 while the pod is Ready, 503 before, 404 once it is gone.
   */
  private proxy(res: ServerResponse, ns: string | undefined, target: string): void {
    const pod = this.store.get("/pods", ns, target.split(":")[0] as string);
    if (!pod) throw new ApiError(404, "NotFound", `pods "${target}" not found`);
    const ready = (pod.status as { conditions?: { type: string; status: string }[] })?.conditions?.some(
      (c) => c.type === "Ready" && c.status === "True",
    );
    if (!ready) throw new ApiError(503, "ServiceUnavailable", `pod ${target} is not ready (double)`);
    sendText(res, `ok from ${pod.metadata?.name} (double)\n`);
  }

  /** metrics.k8s.io/v1beta1 PodMetrics from each pod's behaviour (`usage`), when enabled. */
  private metrics(res: ServerResponse, path: string): void {
    const m = /^\/apis\/metrics\.k8s\.io\/v1beta1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/.exec(path);
    if (!m) throw new ApiError(404, "NotFound", `the server could not find the requested resource (${path})`);
    const of = (p: Obj) => {
      const cs = (p.spec as { containers?: Container[] }).containers ?? [];
      return {
        kind: "PodMetrics",
        apiVersion: "metrics.k8s.io/v1beta1",
        metadata: { name: p.metadata?.name, namespace: p.metadata?.namespace },
        timestamp: new Date().toISOString(),
        window: "15s",
        containers: cs.map((c) => {
          const u = this.behaviourOf(c, p.metadata?.namespace).usage ?? {
            cpu: 0.005,
            memory: 20 * 1024 * 1024,
          };
          return {
            name: c.name,
            usage: { cpu: `${Math.round(u.cpu * 1e9)}n`, memory: `${Math.round(u.memory / 1024)}Ki` },
          };
        }),
      };
    };
    const running = (p: Obj) => (p.status as { phase?: string })?.phase === "Running";
    if (m[2]) {
      const p = this.store.get("/pods", m[1], m[2]);
      if (!p || !running(p))
        throw new ApiError(404, "NotFound", `podmetrics.metrics.k8s.io "${m[2]}" not found`);
      return send(res, 200, of(p));
    }
    send(res, 200, {
      kind: "PodMetricsList",
      apiVersion: "metrics.k8s.io/v1beta1",
      metadata: {},
      items: this.store.list("/pods", m[1]).filter(running).map(of),
    });
  }
}

export async function startKubeDouble(opts: DoubleOptions = {}): Promise<KubeApiServerDouble> {
  return new KubeApiServerDouble(opts).start();
}
