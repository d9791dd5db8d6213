/**
 * Names and labels of every object Slipway creates on a cluster. They are a documented contract
 * (docs/kubernetes.md) so that `kubectl get -l slipway.dev/service=api` finds what Slipway made.
 */

/** The field manager every server-side apply uses: Slipway owns the fields it sets, nothing else. */
export const FIELD_MANAGER = "slipway";

export const LABEL = {
  project: "slipway.dev/project",
  environment: "slipway.dev/environment",
  service: "slipway.dev/service",
  revision: "slipway.dev/revision",
  /** The release version, when it fits a label value (the annotation always holds it). */
  version: "app.kubernetes.io/version",
} as const;

/** Annotations: the release version as given (labels cannot hold every version string). */
export const ANNOTATION = {
  version: "slipway.dev/version",
  slot: "slipway.dev/slot",
} as const;

/** A DNS-1123 label: lower case, digits and '-', at most 63 characters. */
export function dnsLabel(s: string, max = 63): string {
  const clean = s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return (clean || "x").slice(0, max).replace(/-+$/, "");
}

/** A label value: at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric. */
export function labelValue(s: string): string {
  return s
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
}

export interface Owner {
  project: string;
  env: string;
  service: string;
}

/** Object names: the Service keeps the service's name; each revision has its own workload. */
export const names = {
  service: (service: string) => dnsLabel(service),
  workload: (service: string, revision: number) => `${dnsLabel(service, 50)}-r${revision}`,
  /** StatefulSets keep one name across revisions, so their volume claims (and data) carry over. */
  statefulSet: (service: string) => dnsLabel(service),
  secret: (service: string, revision: number) => `${dnsLabel(service, 50)}-r${revision}-env`,
  job: (service: string, revision: number, what: string) =>
    `${dnsLabel(service, 40)}-r${revision}-${dnsLabel(what, 12)}`,
  ingress: (service: string) => dnsLabel(service),
};

/** The selector that finds an environment's (or a service's) objects. */
export function ownerSelector(o: Partial<Owner> & { project: string; env: string }): Record<string, string> {
  return {
    [LABEL.project]: labelValue(o.project),
    [LABEL.environment]: labelValue(o.env),
    ...(o.service ? { [LABEL.service]: labelValue(o.service) } : {}),
  };
}

export const selectorString = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

/** The standard recommended labels plus Slipway's own. */
export function labelsFor(
  o: Owner,
  extra: { revision?: number; version?: string } = {},
): Record<string, string> {
  return {
    "app.kubernetes.io/name": labelValue(o.service),
    "app.kubernetes.io/instance": labelValue(`${o.project}-${o.env}-${o.service}`),
    "app.kubernetes.io/part-of": labelValue(o.project),
    "app.kubernetes.io/managed-by": "slipway",
    ...(extra.version !== undefined && labelValue(extra.version)
      ? { [LABEL.version]: labelValue(extra.version) }
      : {}),
    ...ownerSelector(o),
    ...(extra.revision !== undefined ? { [LABEL.revision]: String(extra.revision) } : {}),
  };
}
