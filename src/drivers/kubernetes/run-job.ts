/** A one-off command (migrations) as a Job of the release's image, waited on and its log read. */
import type { Cluster } from "./cluster.js";
import { orUndefined } from "./cluster.js";
import { jobFor } from "./manifests/objects.js";
import type { ServiceRelease } from "./manifests/release.js";

export async function runJob(
  c: Cluster,
  r: ServiceRelease,
  command: string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<{ exitCode: number; output: string }> {
  const what = `run-${Date.now().toString(36)}`;
  const job = jobFor(r, what, command);
  const name = job.metadata?.name as string;
  await c.apply(job);
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const j = await c.batch.readNamespacedJob({ name, namespace: c.namespace });
    const done = j.status?.succeeded ? 0 : j.status?.failed ? 1 : undefined;
    if (done !== undefined)
      return { exitCode: await exitCodeOf(c, name, done), output: await outputOf(c, name) };
    if (opts.signal?.aborted || Date.now() > deadline) {
      await orUndefined(
        c.batch.deleteNamespacedJob({ name, namespace: c.namespace, propagationPolicy: "Background" }),
      );
      return {
        exitCode: 124,
        output: `${await outputOf(c, name)}\njob ${name} did not finish in ${opts.timeoutMs} ms`,
      };
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}

export async function jobPod(c: Cluster, job: string) {
  const pods = await c.core.listNamespacedPod({ namespace: c.namespace, labelSelector: `job-name=${job}` });
  if (pods.items[0]) return pods.items[0];
  // Controllers that do not set job-name: find the pod by its owner.
  const all = await c.core.listNamespacedPod({ namespace: c.namespace });
  return all.items.find((p) => p.metadata?.ownerReferences?.some((o) => o.kind === "Job" && o.name === job));
}

async function exitCodeOf(c: Cluster, job: string, fallback: number): Promise<number> {
  const pod = await jobPod(c, job);
  return pod?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode ?? fallback;
}

export async function outputOf(c: Cluster, job: string): Promise<string> {
  const pod = await jobPod(c, job);
  if (!pod?.metadata?.name) return "";
  return String(
    (await orUndefined(c.core.readNamespacedPodLog({ name: pod.metadata.name, namespace: c.namespace }))) ??
      "",
  );
}
