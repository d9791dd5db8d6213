import type { V1Deployment, V1Secret, V1Service, V1StatefulSet } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { releaseOf, type ServiceRelease } from "../../src/drivers/kubernetes/manifests/release.js";
import { renderEnvironment, renderRelease } from "../../src/drivers/kubernetes/manifests/render.js";
import { instanceEnv } from "../../src/engine/strategies/common.js";
import type { ResolvedSpec } from "../../src/spec/resolved.js";
import { registrySecret } from "../../src/drivers/kubernetes/registry-auth.js";
import { validateManifest } from "../support/kube-schema.js";
import { EXAMPLE, resolveExample } from "./fixtures.js";

function release(spec: ResolvedSpec, name: string, revision = 7): ServiceRelease {
  const svc = spec.services[name];
  if (!svc) throw new Error(`no ${name}`);
  return releaseOf(spec, svc, revision, instanceEnv(spec, svc, revision));
}

const byKind = <T>(objs: { kind?: string }[], kind: string) => objs.find((o) => o.kind === kind) as T;

describe("Kubernetes manifests (validated against the Kubernetes OpenAPI schemas)", () => {
  const { spec, snapshot } = resolveExample();

  it("every manifest of the example environment is valid for its kind", () => {
    const releases = Object.values(snapshot.services).map((s) => release(snapshot, s.name));
    const { manifests, notes } = renderEnvironment(releases);
    expect(manifests.map((m) => `${m.kind}/${m.metadata?.name}`)).toEqual([
      "Namespace/runbook",
      "Job/api-r7-migrate",
      "Secret/api-r7-env",
      "Deployment/api-r7",
      "HorizontalPodAutoscaler/api-r7",
      "Service/api",
      "Ingress/api",
      "StatefulSet/db",
      "Service/db",
      "Deployment/worker-r7",
    ]);
    for (const m of manifests) validateManifest(m);
    expect(notes).toEqual([expect.stringContaining("./init:/docker-entrypoint-initdb.d")]);
  });

  it("a private registry: the pull Secret (references only in render) and imagePullSecrets are valid", () => {
    const yaml = EXAMPLE.replace(
      "cluster: prod-eu-1 }",
      'cluster: prod-eu-1, imagePullSecrets: [team-pull], registry: { server: registry.example.com, username: ci, password: "${REGISTRY_PASSWORD}" } }',
    ).replace("  db:\n", "    imagePullSecrets: [api-pull]\n  db:\n");
    const { snapshot: snap } = resolveExample(yaml, "1.4.2", { REGISTRY_PASSWORD: "hunter3" });
    const secret = registrySecret("runbook", "runbook", snap.target as never, "references");
    validateManifest(secret as never);
    expect(JSON.stringify(secret)).toContain("${REGISTRY_PASSWORD}");
    expect(JSON.stringify(secret)).not.toContain("hunter3");
    const out = renderRelease(release(snap, "api"));
    const dep = byKind<V1Deployment>(out.workload, "Deployment");
    validateManifest(dep);
    expect(dep.spec?.template.spec?.imagePullSecrets).toEqual([
      { name: "runbook-registry" },
      { name: "team-pull" },
      { name: "api-pull" },
    ]);
    validateManifest(out.migrate as never);
    expect(
      (out.migrate as { spec: V1Deployment["spec"] }).spec?.template.spec?.imagePullSecrets,
    ).toHaveLength(3);
  });

  it("a broken manifest fails the schema check (the check can fail)", () => {
    const dep = renderRelease(release(spec, "api")).workload.find((m) => m.kind === "Deployment");
    const broken = { ...dep, spec: { ...(dep as V1Deployment).spec, replicas: "three" } };
    expect(() => validateManifest(broken)).toThrow(/replicas must be integer/);
  });

  it("api: Deployment per revision with probes, limits and requests, labels, secrets by reference", () => {
    const out = renderRelease(release(spec, "api"), { replicas: 3 });
    const dep = byKind<V1Deployment>(out.workload, "Deployment");
    expect(dep.metadata?.labels).toMatchObject({
      "app.kubernetes.io/name": "api",
      "app.kubernetes.io/managed-by": "slipway",
      "app.kubernetes.io/part-of": "runbook",
      "app.kubernetes.io/version": "1.4.2",
      "slipway.dev/project": "runbook",
      "slipway.dev/environment": "production",
      "slipway.dev/service": "api",
      "slipway.dev/revision": "7",
    });
    expect(dep.spec?.replicas).toBe(3);
    expect(dep.spec?.selector.matchLabels).toEqual({
      "slipway.dev/project": "runbook",
      "slipway.dev/environment": "production",
      "slipway.dev/service": "api",
      "slipway.dev/revision": "7",
    });
    const c = dep.spec?.template.spec?.containers[0];
    expect(c?.image).toBe("registry.example.com/runbook-api:1.4.2");
    expect(c?.args).toEqual(["node", "dist/server.js", "--cluster"]);
    expect(c?.resources).toEqual({
      limits: { cpu: "1", memory: "1Gi" },
      requests: { cpu: "500m", memory: "512Mi" },
    });
    expect(c?.readinessProbe).toMatchObject({
      httpGet: { path: "/health", port: 3000 },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 3,
    });
    expect(c?.livenessProbe).toMatchObject({ httpGet: { path: "/health", port: 3000 } });
    expect(c?.startupProbe).toMatchObject({ failureThreshold: 12 });
    const env = Object.fromEntries((c?.env ?? []).map((e) => [e.name, e]));
    expect(env.PORT).toEqual({ name: "PORT", value: "3000" });
    expect(env.LOG_LEVEL).toEqual({ name: "LOG_LEVEL", value: "info" });
    for (const k of ["JWT_SECRET", "DATABASE_URL"])
      expect(env[k]).toEqual({ name: k, valueFrom: { secretKeyRef: { name: "api-r7-env", key: k } } });
    // Secret values live in the Secret only, never in the Deployment.
    expect(JSON.stringify(dep)).not.toContain("hunter2");
    expect(JSON.stringify(dep)).not.toContain("s3cret-jwt");
    const secret = byKind<V1Secret>(out.workload, "Secret");
    expect(secret.stringData).toEqual({
      DATABASE_URL: "postgres://u:hunter2@db:5432/app",
      JWT_SECRET: "s3cret-jwt",
    });
    expect(out.workload.some((m) => m.kind === "ConfigMap")).toBe(false);
  });

  it("the snapshot renders references, never values", () => {
    const out = renderRelease(release(snapshot, "api"));
    const text = JSON.stringify(out);
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("s3cret-jwt");
    expect(byKind<V1Secret>(out.workload, "Secret").stringData?.JWT_SECRET).toBe("${JWT_SECRET}");
  });

  it("further ports (ports:) become named container and Service ports, and $PORT_<NAME>", () => {
    const api = spec.services.api as ResolvedSpec["services"][string];
    const withPorts = {
      ...spec,
      services: {
        ...spec.services,
        api: { ...api, ports: [{ name: "grpc", port: 9090, containerPort: 9091 }] },
      },
    };
    const out = renderRelease(release(withPorts, "api"), { traffic: { revision: 6 } });
    for (const m of [...out.workload, ...out.routing]) validateManifest(m);
    const c = byKind<V1Deployment>(out.workload, "Deployment").spec?.template.spec?.containers[0];
    expect(c?.ports).toEqual([
      { name: "http", containerPort: 3000, protocol: "TCP" },
      { name: "grpc", containerPort: 9091, protocol: "TCP" },
    ]);
    expect(c?.env).toContainEqual({ name: "PORT_GRPC", value: "9091" });
    expect(byKind<V1Service>(out.routing, "Service").spec?.ports).toContainEqual({
      name: "grpc",
      port: 9090,
      targetPort: 9091,
      protocol: "TCP",
    });
  });

  it("HPA from autoscale, Service selecting the stable revision, Ingress with TLS", () => {
    const out = renderRelease(release(spec, "api"), { traffic: { revision: 6 } });
    const hpa = byKind<{ spec: Record<string, unknown> }>(out.workload, "HorizontalPodAutoscaler");
    expect(hpa.spec).toEqual({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "api-r7" },
      minReplicas: 3,
      maxReplicas: 10,
      metrics: [
        {
          type: "Resource",
          resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
        },
      ],
    });
    // Without `replicas` given (an existing Deployment, an HPA), the count is left to the cluster.
    expect(byKind<V1Deployment>(out.workload, "Deployment").spec?.replicas).toBeUndefined();
    const svc = byKind<V1Service>(out.routing, "Service");
    expect(svc.spec?.selector?.["slipway.dev/revision"]).toBe("6");
    expect(svc.spec?.ports).toEqual([{ name: "http", port: 3000, targetPort: 3000, protocol: "TCP" }]);
    const all = renderRelease(release(spec, "api"), { traffic: { allRevisions: true } });
    expect(byKind<V1Service>(all.routing, "Service").spec?.selector).not.toHaveProperty(
      "slipway.dev/revision",
    );
    const ing = byKind<{ spec: Record<string, unknown> }>(out.routing, "Ingress");
    expect(ing.spec).toEqual({
      tls: [{ hosts: ["api.example.com"], secretName: "api-tls" }],
      rules: [
        {
          host: "api.example.com",
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: { service: { name: "api", port: { number: 3000 } } },
              },
            ],
          },
        },
      ],
    });
  });

  it("migration Job runs the release's image with migrate.up, once", () => {
    const job = renderRelease(release(spec, "api")).migrate as {
      spec: {
        backoffLimit: number;
        template: { spec: { restartPolicy: string; containers: { image: string; command: string[] }[] } };
      };
    };
    expect(job.spec.backoffLimit).toBe(0);
    expect(job.spec.template.spec.restartPolicy).toBe("Never");
    expect(job.spec.template.spec.containers[0]).toMatchObject({
      image: "registry.example.com/runbook-api:1.4.2",
      command: ["/bin/sh", "-c", "npm run migrate:up"],
    });
  });

  it("stateful: one StatefulSet under a stable name with its volume claim; tcp probe; no HPA", () => {
    const out = renderRelease(release(spec, "db"), { replicas: 1 });
    const sts = byKind<V1StatefulSet>(out.workload, "StatefulSet");
    expect(sts.metadata?.name).toBe("db");
    expect(
      renderRelease(release(spec, "db", 8)).workload.find((m) => m.kind === "StatefulSet")?.metadata?.name,
    ).toBe("db");
    expect(sts.spec?.volumeClaimTemplates?.map((v) => v.metadata?.name)).toEqual(["pgdata"]);
    expect(sts.spec?.template.spec?.containers[0]?.volumeMounts).toEqual([
      { name: "pgdata", mountPath: "/var/lib/postgresql/data" },
    ]);
    expect(sts.spec?.template.spec?.containers[0]?.readinessProbe?.tcpSocket).toEqual({ port: 5432 });
    expect(out.workload.some((m) => m.kind === "HorizontalPodAutoscaler")).toBe(false);
  });

  it("worker without a port: exec probe, no Service, args as given", () => {
    const out = renderRelease(release(spec, "worker"));
    const c = byKind<V1Deployment>(out.workload, "Deployment").spec?.template.spec?.containers[0];
    expect(c?.args).toEqual(["node", "worker.js"]);
    expect(c?.readinessProbe?.exec).toEqual({ command: ["/bin/sh", "-c", "test -f /tmp/ready"] });
    expect(c?.ports).toBeUndefined();
    expect(out.routing).toEqual([]);
  });
});
