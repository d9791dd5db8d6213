/** Events the engine emits while it works: rendered by the CLI, streamed by the daemon, routed to alerts. */
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
  | { type: "log"; level: "info" | "warn" | "error"; message: string; service?: string }
  | {
      type: "alert";
      kind: string;
      severity: "info" | "warning" | "critical";
      message: string;
      service?: string;
      revision?: number;
      data?: Record<string, unknown>;
    };

export type EventSink = (e: EngineEvent) => void;
export const noopSink: EventSink = () => {};
