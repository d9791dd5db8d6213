import { hostname, userInfo } from "node:os";
import type { Cli } from "../runtime.js";
import { UsageError, parseDuration } from "../../core.js";
import type { Silence } from "../../index.js";
import { dim, green, type Out } from "../render.js";

const MATCHER = /^([A-Za-z_][A-Za-z0-9_.-]*)(!?=)(.*)$/;

/** label=value (or label!=value) arguments as silence matchers; repeated labels are any-of. */
export function parseMatchers(args: string[]): Record<string, string[]> {
  if (!args.length)
    throw new UsageError(
      "silence add: give at least one matcher label=value, e.g. service=api or severity=warning",
    );
  const out: Record<string, string[]> = {};
  for (const a of args) {
    const m = MATCHER.exec(a);
    if (!m)
      throw new UsageError(`silence add: "${a}" is not a matcher; expected label=value (or label!=value)`);
    const [, label, op, value] = m;
    if (!value) throw new UsageError(`silence add: matcher "${a}" has no value`);
    (out[label] ??= []).push(op === "!=" ? `!${value}` : value);
  }
  return out;
}

function actor(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return `${process.env.SLIPWAY_ACTOR ?? user}@${hostname()}`;
}

export function register(cli: Cli): void {
  const silence = cli.program
    .command("silence")
    .description("mute alerts matching labels for a while (Alertmanager's silences)");

  silence
    .command("add <env> <matchers...>")
    .description("silence alerts matching label=value… (e.g. service=api severity=warning)")
    .option("--for <duration>", "how long, e.g. 30m, 2h, 1d")
    .option("--comment <text>", "why (required)")
    .option("--author <name>", "who (default: user@host)")
    .action(
      cli.action(
        async (env: string, args: string[], o: { for?: string; comment?: string; author?: string }) => {
          const matchers = parseMatchers(args);
          if (!o.for) throw new UsageError("silence add: --for is required (e.g. --for 2h)");
          const ms = parseDuration(o.for);
          if (ms === undefined || ms <= 0)
            throw new UsageError(`silence add: --for "${o.for}" is not a duration like 30m or 2h`);
          if (!o.comment?.trim())
            throw new UsageError(
              'silence add: --comment is required (why it is silenced), e.g. --comment "db maintenance"',
            );
          const s = (await cli.op("silence", cli.resolve(env, "silence"), {
            action: "add",
            matchers,
            duration: o.for,
            comment: o.comment,
            author: o.author ?? actor(),
          })) as Silence;
          cli.finish(s, (out) => {
            out.stdout(green(out, `✔ silence ${s.id} until ${s.endsAt}`));
            out.stdout(dim(out, `  ${matcherText(s)} — ${s.comment} (${s.author})`));
          });
        },
      ),
    );

  silence
    .command("list <env>")
    .description("active and pending silences (--all: expired ones too)")
    .option("--all", "include expired silences")
    .action(
      cli.action(async (env: string, o: { all?: boolean }) => {
        const r = (await cli.op("silence", cli.resolve(env, "silence"), {
          action: "list",
          all: !!o.all,
        })) as {
          silences: Silence[];
        };
        cli.finish(r, (out) => renderSilences(out, r.silences));
      }),
    );

  silence
    .command("expire <env> <id>")
    .description("end a silence now")
    .action(
      cli.action(async (env: string, id: string) => {
        const s = (await cli.op("silence", cli.resolve(env, "silence"), { action: "expire", id })) as Silence;
        cli.finish(s, (out) => out.stdout(green(out, `✔ silence ${s.id} expired (${matcherText(s)})`)));
      }),
    );
}

function matcherText(s: Silence): string {
  return Object.entries(s.matchers)
    .map(([k, vs]) => vs.map((v) => (v.startsWith("!") ? `${k}!=${v.slice(1)}` : `${k}=${v}`)).join(" "))
    .join(" ");
}

function renderSilences(out: Out, list: Silence[]): void {
  if (!list.length) {
    out.stdout("no silences");
    return;
  }
  for (const s of list) {
    out.stdout(`${s.id}  ${s.state.padEnd(7)}  until ${s.endsAt}  ${matcherText(s)}`);
    out.stdout(dim(out, `    ${s.comment} (${s.author}, ${s.createdAt})`));
  }
}
