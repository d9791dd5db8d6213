/** `slipway rules ENV`: the standing alert rules, their state, last value and since when. */
import type { Cli } from "../runtime.js";
import type { RuleStatus } from "../../index.js";
import { formatMs, formatThreshold, formatValue } from "../../core.js";
import { bold, dim, green, red, yellow, type Out } from "../render.js";

/** "2026-12-06T10:01:02.123Z" → "10:01:02Z (4m ago)" */
function since(iso: string, now = Date.now()): string {
  const ago = Math.max(0, now - Date.parse(iso));
  return `${iso.slice(11, 19)}Z (${formatMs(ago - (ago % 1000))} ago)`;
}

function stateText(out: Out, s: RuleStatus, width: number): string {
  const text = s.state.padEnd(width);
  return s.state === "firing" ? red(out, text) : s.state === "pending" ? yellow(out, text) : green(out, text);
}

export function renderRules(out: Out, env: string, r: { evaluated: boolean; rules: RuleStatus[] }): void {
  if (!r.rules.length) {
    out.stdout(`no rules in ${env} (rules: in slipway.yaml, deployed)`);
    return;
  }
  const nameW = Math.max(4, ...r.rules.map((x) => x.name.length));
  out.stdout(
    dim(
      out,
      `${"RULE".padEnd(nameW)}  STATE     ${"VALUE".padEnd(10)}  ${"THRESHOLD".padEnd(12)}  FOR    SEVERITY  SINCE`,
    ),
  );
  for (const s of r.rules) {
    const value =
      s.health === "error"
        ? "error"
        : s.value !== undefined
          ? formatValue(s, s.value)
          : s.noData
            ? "no data"
            : "-";
    out.stdout(
      `${bold(out, s.name.padEnd(nameW))}  ${stateText(out, s, 8)}  ${value.padEnd(10)}  ${formatThreshold(s).padEnd(12)}  ` +
        `${(s.forMs ? formatMs(s.forMs) : "0").padEnd(5)}  ${s.severity.padEnd(8)}  ${since(s.since)}` +
        (s.service ? dim(out, `  ${s.service}`) : ""),
    );
    if (s.health === "error" && s.lastError) out.stdout(dim(out, `    ${s.lastError}`));
  }
  if (!r.evaluated)
    out.stdout(dim(out, "  (not evaluated by a running daemon: the states are the last ones saved)"));
}

export function register(cli: Cli): void {
  cli.program
    .command("rules <env>")
    .description("standing alert rules: state (inactive, pending, firing), last value, since when")
    .action(
      cli.action(
        async (env: string) => {
          const r = (await cli.op("rules", await cli.light(env), {})) as {
            evaluated: boolean;
            rules: RuleStatus[];
          };
          cli.finish(r, (out) => renderRules(out, env, r));
        },
        { light: true },
      ),
    );
}
