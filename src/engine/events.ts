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
  | {
      type: "log";
      level: "info" | "warn" | "error";
      message: string;
      service?: string;
      /** The outcome of one piece of work the message reports (a backup taken, a restore done). */
      status?: "ok" | "failed";
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

export type EventSink = (e: EngineEvent) => void;
export const noopSink: EventSink = () => {};
