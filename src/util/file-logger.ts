/** A line-per-record JSON logger writing to a stream (the daemon's log file). */
import type { Writable } from "node:stream";
import type { Logger } from "../logger.js";

export function fileLogger(stream: Writable, level: "debug" | "info" = "info"): Logger {
  const write = (lvl: string) => (msg: string, fields?: Record<string, unknown>) =>
    stream.write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }) + "\n");
  return {
    debug: level === "debug" ? write("debug") : () => {},
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
  };
}
