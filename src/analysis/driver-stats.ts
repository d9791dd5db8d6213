/**
 * driver: CPU and memory of a service's new instances through the driver's stats(). The worst
 * instance decides (one instance at 95 % CPU is a problem even if the average is fine).
 */
import { totalmem } from "node:os";
import type { InstanceStats } from "../drivers/driver.js";
import type { AnalysisMetric, Measurement, MetricProvider, ProviderContext } from "./provider.js";
import { errorMessage } from "../errors.js";

export interface DriverStatsProviderOptions {
  /** Stats of the instances a metric measures (the new release of `metric.service`, or of every service rolled out). */
  stats: (metric: AnalysisMetric) => Promise<InstanceStats[]>;
  /** Memory an instance without a limit is measured against (default: this host's total memory). */
  memoryTotal?: number;
}

export class DriverStatsProvider implements MetricProvider {
  readonly kind = "driver" as const;

  constructor(private readonly opts: DriverStatsProviderOptions) {}

  async measure(metric: AnalysisMetric, ctx: ProviderContext): Promise<Measurement> {
    let stats: InstanceStats[];
    try {
      stats = await this.opts.stats(metric);
    } catch (e) {
      return { error: `driver stats: ${errorMessage(e)}`, at: ctx.now() };
    }
    const at = ctx.now();
    if (!stats.length) return { noData: true, at };
    const total = this.opts.memoryTotal ?? totalmem();
    const values = stats.map((s) => {
      switch (metric.query) {
        case "cpu":
          return s.cpu;
        case "memory":
          return s.memory / (s.memoryLimit && s.memoryLimit > 0 ? s.memoryLimit : total);
        case "memoryBytes":
          return s.memory;
        case "restarts":
          return s.restarts ?? Number.NaN;
        default:
          return Number.NaN;
      }
    });
    if (values.some((v) => Number.isNaN(v)))
      return { error: `the driver provider does not know the query "${metric.query}"`, at };
    return { value: worst(metric, values), samples: values.length, at };
  }
}

/** The value that is closest to failing: the highest against a max, the lowest against only a min. */
export function worst(metric: Pick<AnalysisMetric, "max" | "min">, values: number[]): number {
  return metric.max === undefined && metric.min !== undefined ? Math.min(...values) : Math.max(...values);
}
