/**
 * `slipway users add|list|remove|passwd` and `slipway tokens create|list|revoke`: managed on the
 * daemon (the local one over its socket, where the owner of SLIPWAY_HOME is admin; or
 * `--server URL --token ADMIN_TOKEN`).
 */
import { createInterface } from "node:readline";
import type { Command } from "commander";
import {
  PRINCIPAL_ROLES,
  ROLES,
  UsageError,
  isPrincipalRole,
  isRole,
  parseDuration,
  type Role,
} from "../../core.js";
import { requestJson } from "../daemon-client.js";
import type { Cli } from "../runtime.js";
import { bold, dim, green } from "../render.js";

interface UserView {
  name: string;
  role: Role;
  grants: Record<string, Role>;
  hasPassword: boolean;
}
interface TokenView {
  id: string;
  name: string;
  role: string;
  grants: Record<string, Role>;
  createdBy: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** `--env staging=deployer --env shop/production=viewer` → grants. */
export function parseGrants(pairs: string[]): Record<string, Role> {
  const out: Record<string, Role> = {};
  for (const p of pairs) {
    const m = /^([^=\s]+)=([a-z]+)$/.exec(p);
    if (!m || !isRole(m[2]))
      throw new UsageError(
        `--env ${p}: expected ENV=ROLE (or PROJECT/ENV=ROLE), ROLE one of ${ROLES.join(", ")}`,
      );
    out[m[1]] = m[2];
  }
  return out;
}

/** The whole of stdin (--password-stdin), or a hidden prompt on a terminal. */
async function readPassword(fromStdin: boolean | undefined): Promise<string> {
  if (fromStdin) {
    let text = "";
    for await (const chunk of process.stdin) text += String(chunk);
    return text.replace(/\r?\n$/, "");
  }
  if (!process.stdin.isTTY) throw new UsageError("no terminal to ask for the password: use --password-stdin");
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const ask = (q: string) =>
    new Promise<string>((resolve) => {
      process.stderr.write(q);
      const mute = rl as unknown as { _writeToOutput?: (s: string) => void };
      mute._writeToOutput = () => {};
      rl.question("", (a) => {
        process.stderr.write("\n");
        resolve(a);
      });
    });
  try {
    const a = await ask("password: ");
    if ((await ask("again: ")) !== a) throw new UsageError("the two passwords differ");
    return a;
  } finally {
    rl.close();
  }
}

const showGrants = (g: Record<string, Role>) =>
  Object.entries(g)
    .map(([e, r]) => `${e}=${r}`)
    .join(" ");

export function register(cli: Cli): void {
  const users = cli.program.command("users").description("people who may use the dashboard and API (admin)");
  users
    .command("add <name>")
    .description("add a user with a role (and per-environment grants)")
    .requiredOption("--role <role>", `one of ${ROLES.join(", ")}`)
    .option("--env <env=role>", "a per-environment role, e.g. staging=deployer (repeatable)", collect, [])
    .option("--password-stdin", "read the password from stdin (else: asked on the terminal, or none)")
    .action(
      cli.action(
        async (name: string, o: { role: string; env: string[]; passwordStdin?: boolean }) => {
          if (!isRole(o.role)) throw new UsageError(`--role ${o.role}: expected one of ${ROLES.join(", ")}`);
          const grants = parseGrants(o.env);
          const password =
            o.passwordStdin || process.stdin.isTTY ? await readPassword(o.passwordStdin) : undefined;
          const r = (await requestJson(await cli.endpoint(), "POST", "/v1/users", {
            name,
            role: o.role,
            grants,
            ...(password ? { password } : {}),
          })) as { user: UserView };
          cli.finish(r, (out) =>
            out.stdout(
              green(out, `✔ added ${name} (${o.role}${o.env.length ? ", " + showGrants(grants) : ""})`),
            ),
          );
        },
        { light: true },
      ),
    );
  users
    .command("list")
    .description("list users, their roles and grants")
    .action(
      cli.action(
        async () => {
          const r = (await requestJson(await cli.endpoint(), "GET", "/v1/users")) as { users: UserView[] };
          cli.finish(r, (out) => {
            if (!r.users.length)
              out.stdout("no users (the local CLI needs none: it is admin over the socket)");
            for (const u of r.users)
              out.stdout(
                `${bold(out, u.name)}  ${u.role}${Object.keys(u.grants).length ? "  " + showGrants(u.grants) : ""}${u.hasPassword ? "" : dim(out, "  (no password)")}`,
              );
          });
        },
        { light: true },
      ),
    );
  registerUserChanges(cli, users);
  registerTokens(cli);
}

function registerUserChanges(cli: Cli, users: Command): void {
  users
    .command("remove <name>")
    .description("remove a user and end their sessions")
    .action(
      cli.action(
        async (name: string) => {
          const r = await requestJson(
            await cli.endpoint(),
            "DELETE",
            `/v1/users/${encodeURIComponent(name)}`,
          );
          cli.finish(r, (out) => out.stdout(green(out, `✔ removed ${name}`)));
        },
        { light: true },
      ),
    );
  users
    .command("passwd <name>")
    .description("set a user's password")
    .option("--password-stdin", "read the password from stdin")
    .action(
      cli.action(
        async (name: string, o: { passwordStdin?: boolean }) => {
          const password = await readPassword(o.passwordStdin);
          const r = await requestJson(
            await cli.endpoint(),
            "PATCH",
            `/v1/users/${encodeURIComponent(name)}`,
            { password },
          );
          cli.finish(r, (out) => out.stdout(green(out, `✔ password of ${name} changed`)));
        },
        { light: true },
      ),
    );
}

function registerTokens(cli: Cli): void {
  const tokens = cli.program
    .command("tokens")
    .description("API tokens for scripts, CI and Prometheus (admin)");
  tokens
    .command("create <name>")
    .description("create a token; its value is printed once and never again")
    .option("--role <role>", `one of ${PRINCIPAL_ROLES.join(", ")}`, "viewer")
    .option("--env <env=role>", "a per-environment role (repeatable)", collect, [])
    .option("--expires <duration>", "lifetime, e.g. 90d or 12h (default: none)")
    .action(
      cli.action(
        async (name: string, o: { role: string; env: string[]; expires?: string }) => {
          if (!isPrincipalRole(o.role))
            throw new UsageError(`--role ${o.role}: expected one of ${PRINCIPAL_ROLES.join(", ")}`);
          const ms = o.expires === undefined ? undefined : parseDuration(o.expires);
          if (o.expires !== undefined && (!ms || ms < 60_000))
            throw new UsageError(`--expires ${o.expires}: expected a duration of at least 1m, e.g. 90d`);
          const r = (await requestJson(await cli.endpoint(), "POST", "/v1/tokens", {
            name,
            role: o.role,
            grants: parseGrants(o.env),
            ...(ms ? { expiresInMs: Math.round(ms) } : {}),
          })) as { token: string; record: TokenView };
          cli.finish(r, (out) => {
            out.stdout(r.token);
            out.stderr(
              `✔ token ${name} (${r.record.id}, ${r.record.role}${r.record.expiresAt ? `, expires ${r.record.expiresAt}` : ""}): shown once, store it now`,
            );
          });
        },
        { light: true },
      ),
    );
  tokens
    .command("list")
    .description("list tokens (never their values)")
    .action(
      cli.action(
        async () => {
          const r = (await requestJson(await cli.endpoint(), "GET", "/v1/tokens")) as { tokens: TokenView[] };
          cli.finish(r, (out) => {
            if (!r.tokens.length) out.stdout("no tokens");
            for (const t of r.tokens)
              out.stdout(
                `${t.id}  ${bold(out, t.name)}  ${t.role}${Object.keys(t.grants).length ? "  " + showGrants(t.grants) : ""}  ${dim(out, `by ${t.createdBy}, ${t.expiresAt ? `expires ${t.expiresAt}` : "no expiry"}${t.lastUsedAt ? `, last used ${t.lastUsedAt}` : ""}`)}`,
              );
          });
        },
        { light: true },
      ),
    );
  tokens
    .command("revoke <id-or-name>")
    .description("revoke a token at once")
    .action(
      cli.action(
        async (id: string) => {
          const r = await requestJson(await cli.endpoint(), "DELETE", `/v1/tokens/${encodeURIComponent(id)}`);
          cli.finish(r, (out) => out.stdout(green(out, `✔ revoked ${id}`)));
        },
        { light: true },
      ),
    );
}
