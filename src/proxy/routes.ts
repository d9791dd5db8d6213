/** Validation of routes received over the control socket, and the on-disk snapshot. */
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { DOMAIN_RE } from "../spec/domains.js";
import type { Route } from "./contract.js";

const targetSchema = z.object({
  id: z.string().min(1),
  slot: z.enum(["stable", "candidate"]),
  url: z
    .string()
    .refine((u) => URL.canParse(u) && new URL(u).protocol === "http:" && new URL(u).hostname !== "", {
      message: "must be an http:// URL with a host, e.g. http://127.0.0.1:41234",
    }),
});

const listenSchema = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });

const edgeSchema = z
  .object({
    domains: z.array(z.string().regex(DOMAIN_RE, "must be a lower-case DNS name")).min(1),
    http: listenSchema.optional(),
    https: listenSchema.optional(),
    tls: z
      .union([
        z.object({ cert: z.string().min(1), key: z.string().min(1) }),
        z.object({ acme: z.object({ email: z.string().min(3), directory: z.url().optional() }) }),
      ])
      .optional(),
    redirectHttp: z.boolean(),
    hstsSeconds: z.number().int().min(0),
    proxyProtocol: z.boolean(),
  })
  .refine((e) => e.http || e.https, { message: "needs an http or https listener" })
  .refine((e) => !e.https || e.tls, { message: "an https listener needs tls (cert and key, or acme)" });

export const routeSchema = z
  .object({
    key: z.string().min(1),
    listen: listenSchema,
    edge: edgeSchema.optional(),
    targets: z.array(targetSchema),
    candidateWeight: z.number().min(0).max(100),
    sticky: z.boolean(),
    drainTimeoutMs: z.number().int().min(0),
    responseTimeoutMs: z.number().int().min(1),
  })
  .superRefine((r, ctx) => {
    const seen = new Set<string>();
    for (const [i, t] of r.targets.entries()) {
      if (seen.has(t.id))
        ctx.addIssue({
          code: "custom",
          path: ["targets", i, "id"],
          message: `duplicate target id "${t.id}"`,
        });
      seen.add(t.id);
    }
  });

/** Human-readable problems of an untrusted route, or the parsed route. */
export function parseRoute(input: unknown): { route: Route } | { error: string } {
  const r = routeSchema.safeParse(input);
  if (r.success) return { route: r.data };
  const key =
    typeof input === "object" && input && "key" in input ? String((input as { key: unknown }).key) : "?";
  return {
    error: `invalid route ${JSON.stringify(key)}: ${r.error.issues
      .map((i) => `${i.path.length ? i.path.join(".") : "(route)"}: ${i.message}`)
      .join("; ")}`,
  };
}

interface SnapshotFile {
  version: 1;
  savedAt: string;
  routes: Route[];
}

/** Atomic: write a temp file beside the target, fsync it, rename over. */
export async function saveSnapshot(file: string, routes: Route[]): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const body: SnapshotFile = { version: 1, savedAt: new Date().toISOString(), routes };
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(JSON.stringify(body, null, 2) + "\n");
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

/** Routes of the snapshot; invalid entries are reported and skipped, a missing file is empty. */
export async function loadSnapshot(file: string): Promise<{ routes: Route[]; problems: string[] }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { routes: [], problems: [] };
    throw e;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return {
      routes: [],
      problems: [`${file}: not valid JSON (${(e as Error).message}); starting with no routes`],
    };
  }
  const list = (data as { routes?: unknown })?.routes;
  if (!Array.isArray(list))
    return { routes: [], problems: [`${file}: no "routes" array; starting with no routes`] };
  const routes: Route[] = [];
  const problems: string[] = [];
  for (const item of list) {
    const r = parseRoute(item);
    if ("route" in r) routes.push(r.route);
    else problems.push(`${file}: ${r.error}`);
  }
  return { routes, problems };
}
