/**
 * GET /v1/openapi.json: the OpenAPI 3.1 description of the daemon's HTTP API, generated from the
 * same zod schemas the handlers validate with (operation-schemas.ts, route-schemas.ts) and the
 * role table (op-roles.ts OP_ROLES).
 */
import { z } from "zod";
import { OPS, OP_ROLES, ROLE_SUMMARY, opPayloadSchema, type OpName } from "../index.js";
import { CSRF_HEADER, SESSION_COOKIE } from "./auth.js";
import { CHANGE_USER, EVENTS_QUERY, LOGIN, NEW_TOKEN, NEW_USER } from "./route-schemas.js";

type Json = Record<string, unknown>;
const schema = (s: z.ZodType): Json => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Json;
  return rest;
};
const jsonBody = (s: z.ZodType) => ({
  required: true,
  content: { "application/json": { schema: schema(s) } },
});
const ERROR = { $ref: "#/components/schemas/Error" };
const answers = (ok: string, extra: Record<string, string> = {}) => ({
  "200": { description: ok },
  ...Object.fromEntries(
    Object.entries({
      "401": "not authenticated",
      "403": "authenticated, but the role lacks it",
      ...extra,
    }).map(([k, v]) => [k, { description: v, content: { "application/json": { schema: ERROR } } }]),
  ),
});

function opPaths(): Json {
  const out: Json = {};
  for (const op of OPS) {
    const rule = OP_ROLES[op as OpName];
    const role = typeof rule === "string" ? rule : "depends on the arguments (see docs/users.md)";
    out[`/v1/ops/${op}`] = {
      post: {
        operationId: `op-${op}`,
        tags: ["operations"],
        summary: `run \`${op}\` (least role: ${role})`,
        description:
          "Streams NDJSON: {type:event}, {type:line} lines, then one {type:result} or {type:error}.",
        requestBody: jsonBody(opPayloadSchema(op as OpName)),
        responses: answers("NDJSON stream", { "400": "payload fails validation", "413": "body too large" }),
      },
    };
  }
  return out;
}

function accessPaths(): Json {
  return {
    "/v1/health": {
      get: {
        tags: ["daemon"],
        summary: "liveness (no authentication)",
        security: [],
        responses: { "200": { description: "ok" } },
      },
    },
    "/v1/openapi.json": {
      get: {
        tags: ["daemon"],
        summary: "this document",
        security: [],
        responses: { "200": { description: "OpenAPI 3.1" } },
      },
    },
    "/metrics": {
      get: {
        tags: ["daemon"],
        summary: "Prometheus text (any role, including metrics)",
        responses: answers("text/plain"),
      },
    },
    "/v1/session": {
      post: {
        tags: ["session"],
        summary: "log in: sets the session cookie, returns the CSRF token",
        security: [],
        requestBody: jsonBody(LOGIN),
        responses: answers("logged in", { "429": "too many failed logins (Retry-After)" }),
      },
      get: {
        tags: ["session"],
        summary: "who am I (and the CSRF token of a cookie session)",
        responses: answers("principal"),
      },
      delete: { tags: ["session"], summary: "log out", responses: answers("logged out") },
    },
    "/v1/environments": {
      get: {
        tags: ["events"],
        summary:
          "every environment with instances the caller may view: {project, env, target, protect, revision, lock} (the dashboard's list)",
        responses: answers("environments"),
      },
    },
    "/v1/events": {
      get: {
        tags: ["events"],
        summary: "engine events as server-sent events (viewer on the environment)",
        parameters: Object.entries((schema(EVENTS_QUERY).properties ?? {}) as Json).map(([name, s]) => ({
          name,
          in: "query",
          required: false,
          schema: s,
        })),
        responses: answers("text/event-stream: `ready`, then `engine` events {project, env, event}"),
      },
    },
  };
}

function managementPaths(): Json {
  return {
    "/v1/users": {
      get: { tags: ["users"], summary: "list users (admin)", responses: answers("users") },
      post: {
        tags: ["users"],
        summary: "add a user (admin)",
        requestBody: jsonBody(NEW_USER),
        responses: answers("created", { "409": "exists" }),
      },
    },
    "/v1/users/{name}": {
      patch: {
        tags: ["users"],
        summary: "change role, grants or password (admin)",
        requestBody: jsonBody(CHANGE_USER),
        responses: answers("changed"),
      },
      delete: {
        tags: ["users"],
        summary: "remove a user and end their sessions (admin)",
        responses: answers("removed"),
      },
    },
    "/v1/tokens": {
      get: {
        tags: ["tokens"],
        summary: "list tokens, never their values (admin)",
        responses: answers("tokens"),
      },
      post: {
        tags: ["tokens"],
        summary: "create a token; its value is in this answer only (admin)",
        requestBody: jsonBody(NEW_TOKEN),
        responses: answers("created", { "409": "exists" }),
      },
    },
    "/v1/tokens/{id}": {
      delete: { tags: ["tokens"], summary: "revoke by id or name (admin)", responses: answers("revoked") },
    },
  };
}

let cached: Json | undefined;

export function openApiDocument(version: string): Json {
  cached ??= {
    openapi: "3.1.0",
    info: {
      title: "Slipway daemon API",
      version,
      description: `Roles: ${Object.entries(ROLE_SUMMARY)
        .map(([r, s]) => `${r} — ${s}`)
        .join(
          "; ",
        )}. Cookie-authenticated changes need the Origin of the daemon and the ${CSRF_HEADER} header.`,
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "an API token (slipway tokens create)" },
        session: { type: "apiKey", in: "cookie", name: SESSION_COOKIE },
      },
      schemas: {
        Error: {
          type: "object",
          properties: {
            error: { type: "object", properties: { name: { type: "string" }, message: { type: "string" } } },
          },
        },
      },
    },
    security: [{ bearer: [] }, { session: [] }],
    paths: { ...accessPaths(), ...managementPaths(), ...opPaths() },
  };
  return cached;
}
