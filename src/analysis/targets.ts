/** Where the pull providers (scrape, json) fetch from: a full URL, or a path on each new instance. */
import type { AnalysisMetric } from "./provider.js";

/** Base URLs (http://host:port) of the new release's instances of a service. */
export type InstanceUrls = (service: string) => Promise<string[]>;

export async function urlsOf(
  metric: AnalysisMetric,
  instanceUrls: InstanceUrls | undefined,
): Promise<string[]> {
  const url = metric.url ?? "";
  if (!url) throw new Error(`metric "${metric.name}" has no url`);
  if (!url.startsWith("/")) return [url];
  if (!metric.service) throw new Error(`metric "${metric.name}": a path url needs a service`);
  if (!instanceUrls) throw new Error(`metric "${metric.name}": instance addresses are not available here`);
  const bases = await instanceUrls(metric.service);
  return bases.map((b) => `${b.replace(/\/+$/, "")}${url}`);
}
