/** Events the engine emits while it works: rendered by the CLI, streamed by the daemon, routed to alerts. */
import type { MeasurementRecord } from "../analysis/evaluate.js";
import type { StepStatus } from "../store/store.js";

export type EngineEvent =
  | {
      type: "step";
      seq: number;
      kind: string;
      service?: string;
      description: string;
      status: StepStatus;
      durationMs?: number;
      message?: string;
    }
  | {
      type: "log";
      level: "info" | "warn" | "error";
      message: string;
      service?: string;
      /** The outcome of one piece of work the message reports (a backup taken, a restore done). */
      status?: "ok" | "failed";
    }
  | CheckEvent
  | {
      /** One round of analysis measurements (canary gate, bake); warn when one failed. */
      type: "measurements";
      level: "info" | "warn";
      label: string;
      measurements: MeasurementRecord[];
    }
  | {
      type: "alert";
      kind: string;
      severity: "info" | "warning" | "critical";
      message: string;
      service?: string;
      revision?: number;
      data?: Record<string, unknown>;
    };

/**
 * One pre-flight check's result: status and evidence as data (the CLI draws the ✔/✖ and picks
 * the colour; a dashboard draws its own). `summaryLines`: how many evidence lines say it all.
 */
export interface CheckEvent {
  type: "check";
  name: string;
  kind: string;
  status: "passed" | "failed" | "warning" | "skipped";
  evidence: string;
  durationMs: number;
  summaryLines?: number;
  /** One status per evidence line when the lines are several measurements (resources, hosts). */
  lineStatus?: ("passed" | "failed" | "warning" | "skipped")[];
}

export type EventSink = (e: EngineEvent) => void;
export const noopSink: EventSink = () => {};
