/**
 * The API surface of the Kubernetes API server DOUBLE (kube-apiserver-double.ts): the resource
 * types it serves, discovery documents, URL routing, label and field selectors, the defaults the
 * API server fills in on write, and HTTP helpers.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Obj } from "./kube-double-store.js";
export interface ResourceType {
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
export const VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"];
export const gv = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);
export const storeKey = (t: ResourceType) => `${t.group}/${t.plural}`;

export interface Route {
  type: ResourceType;
  ns?: string;
  name?: string;
  sub?: string;
}

/** /api/v1/namespaces/NS/pods/NAME/log → its parts; undefined when no resource matches. */
export function route(path: string): Route | undefined {
  const parts = path
    .split("/")
    .filter(Boolean)
    .map((p) => decodeURIComponent(p));
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

export function matchesLabels(o: Obj, selector: string | null): boolean {
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
/** Field selectors by dotted path (metadata.name, involvedObject.name, status.phase …), = and !=. */
export function matchesFields(o: Obj, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(",").every((term) => {
    const m = /^([^!=]+)(!=|==?)(.*)$/.exec(term.trim());
    if (!m) return true;
    let cur: unknown = o;
    for (const k of (m[1] as string).split(".")) cur = (cur as Record<string, unknown> | undefined)?.[k];
    const equal = String(cur ?? "") === m[3];
    return m[2] === "!=" ? !equal : equal;
  });
}

const METRICS: ResourceType = {
  group: "metrics.k8s.io",
  version: "v1beta1",
  plural: "pods",
  kind: "PodMetrics",
  namespaced: true,
};

const SHORT: Record<string, string[]> = {
  namespaces: ["ns"],
  pods: ["po"],
  services: ["svc"],
  configmaps: ["cm"],
  persistentvolumeclaims: ["pvc"],
  events: ["ev"],
  deployments: ["deploy"],
  statefulsets: ["sts"],
  replicasets: ["rs"],
  horizontalpodautoscalers: ["hpa"],
  ingresses: ["ing"],
};

export function discovery(path: string, opts: { metrics?: boolean } = {}): unknown {
  if (path === "/version")
    return { major: "1", minor: "33", gitVersion: "v1.33.0-slipway-double", platform: "linux/amd64" };
  if (path === "/api") return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] };
  const served = opts.metrics ? [...RESOURCES, METRICS] : RESOURCES;
  const groups = [...new Set(served.filter((t) => t.group).map(gv))];
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
  const types = served.filter((t) => gv(t) === groupVersion);
  if (!types.length) return undefined;
  const resources = types.flatMap((t) => [
    {
      name: t.plural,
      shortNames: SHORT[t.plural] ?? [],
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
      ? ["log", "exec", "proxy"].map((sub) => ({
          name: `pods/${sub}`,
          singularName: "",
          namespaced: true,
          kind: sub === "log" ? "Pod" : sub === "exec" ? "PodExecOptions" : "PodProxyOptions",
          verbs: sub === "log" ? ["get"] : ["create", "get"],
        }))
      : []),
    ...(t.kind === "Deployment" || t.kind === "StatefulSet" || t.kind === "ReplicaSet"
      ? [
          {
            name: `${t.plural}/scale`,
            singularName: "",
            namespaced: true,
            group: "autoscaling",
            version: "v1",
            kind: "Scale",
            verbs: ["get", "patch", "update"],
          },
        ]
      : []),
  ]);
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion, resources };
}

/** What the API server fills in on write: Secret stringData → data, a Service's clusterIP, a namespace's phase. */
export function withDefaults(t: ResourceType, o: Obj): Obj {
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
export const normalize = (o: Obj): Obj => ({ ...o, metadata: { ...(o.metadata ?? {}) } });
export const parseBody = (body: string): Obj => (body ? (JSON.parse(body) as Obj) : {});

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
export function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
export function sendText(res: ServerResponse, text: string): void {
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(text);
}
