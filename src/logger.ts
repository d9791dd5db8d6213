/** The logger contract used by library code (no console in library code, DESIGN §7). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * A line-per-record JSON logger writing to a stream (the daemon's and the proxy's log files).
 * `base` fields (the proxy's pid) go into every record.
 */
export function fileLogger(
  stream: { write(chunk: string): unknown },
  level: "debug" | "info" = "info",
  base: Record<string, unknown> = {},
): Logger {
  const write = (lvl: string) => (msg: string, fields?: Record<string, unknown>) =>
    void stream.write(
      JSON.stringify({ time: new Date().toISOString(), level: lvl, ...base, msg, ...fields }) + "\n",
    );
  return {
    debug: level === "debug" ? write("debug") : () => {},
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
  };
}
