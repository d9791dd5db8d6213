/** A Logger that keeps what it is told, for tests that assert on log lines. */
import type { Logger } from "../../src/logger.js";

export interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

export function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const rec =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, msg, fields });
    };
  return { lines, debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") };
}
