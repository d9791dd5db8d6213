/** The daemon's API as the dashboard uses it: a cookie session, its CSRF token, NDJSON operations. */

export interface Me {
  actor: string;
  role: string;
  grants: Record<string, string>;
  csrfToken?: string;
}

export interface EnvSummary {
  project: string;
  env: string;
  target: unknown;
  protect: boolean;
  revision?: { number: number; version: string; status: string; actor: string; createdAt: string };
  lock?: { holder: string; operation: string; acquiredAt: string };
}

export interface Step {
  type: "step";
  seq: number;
  kind: string;
  service?: string;
  description: string;
  status: string;
  durationMs?: number;
  message?: string;
}
export type EngineEvent = Step | { type: string; message?: string; level?: string; [k: string]: unknown };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrf = "";

/** Fired when the daemon answers 401 to a signed-in page: the session expired (or was revoked). */
export const SESSION_EXPIRED = "slipway:session-expired";
function refused(status: number, message: string): ApiError {
  if (status === 401) window.dispatchEvent(new CustomEvent(SESSION_EXPIRED, { detail: message }));
  return new ApiError(status, message);
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") headers["x-slipway-csrf"] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) {
    // Reading the session (whoAmI, login) answers 401 by design: not an expiry.
    if (path === "/v1/session") throw new ApiError(res.status, data.error?.message ?? `HTTP ${res.status}`);
    throw refused(res.status, data.error?.message ?? `HTTP ${res.status}`);
  }
  return data as T;
}

export async function whoAmI(): Promise<Me | undefined> {
  try {
    const me = await call<Me>("GET", "/v1/session");
    csrf = me.csrfToken ?? "";
    return me;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return undefined;
    throw e;
  }
}

export async function login(name: string, password: string): Promise<Me> {
  const me = await call<Me>("POST", "/v1/session", { name, password });
  csrf = me.csrfToken ?? "";
  return me;
}

export const logout = () => call("DELETE", "/v1/session");

export const environments = () => call<{ environments: EnvSummary[] }>("GET", "/v1/environments");

const ROLES = ["viewer", "operator", "deployer", "admin"];
/** The caller's role in one environment (a `project/env` grant, then an `env` grant, then the role). */
export function roleIn(me: Me, project: string, env: string): string {
  return me.grants[`${project}/${env}`] ?? me.grants[env] ?? me.role;
}
export const atLeast = (held: string, needed: string) => ROLES.indexOf(held) >= ROLES.indexOf(needed);

/** What an operation streams besides its result: engine events, log lines; a signal stops it (logs -F). */
export interface OpStream {
  onEvent?: (ev: EngineEvent) => void;
  onLine?: (l: LogLine) => void;
  signal?: AbortSignal;
}
export interface LogLine {
  instance: string;
  stream: "stdout" | "stderr";
  time?: string;
  line: string;
}

/** Runs an operation on an environment (a light reference: the daemon uses the deployed revision). */
export async function op<T>(
  name: string,
  e: Pick<EnvSummary, "project" | "env" | "target">,
  args: Record<string, unknown> = {},
  stream: OpStream | ((ev: EngineEvent) => void) = {},
): Promise<T> {
  const s = typeof stream === "function" ? { onEvent: stream } : stream;
  const spec = { project: e.project, env: e.env, target: e.target };
  const res = await fetch(`/v1/ops/${name}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-slipway-csrf": csrf },
    body: JSON.stringify({ resolution: { spec, snapshot: spec, secrets: {}, vars: {}, light: true }, args }),
    signal: s.signal,
  });
  if (!res.ok || !res.body) {
    const data = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    throw refused(res.status, data.error?.message ?? `HTTP ${res.status}`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buf += value;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      const m = JSON.parse(line) as {
        type: string;
        event?: EngineEvent;
        line?: LogLine;
        result?: T;
        error?: { message: string };
      };
      if (m.type === "event" && m.event) s.onEvent?.(m.event);
      else if (m.type === "line" && m.line) s.onLine?.(m.line);
      else if (m.type === "result") return m.result as T;
      else if (m.type === "error") throw new ApiError(200, m.error?.message ?? "operation failed");
    }
    if (done) throw new ApiError(200, "the daemon closed the stream without a result");
  }
}
