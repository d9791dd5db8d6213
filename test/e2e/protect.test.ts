/**
 * Protection users can trust, through the daemon: `protect: { confirm: name }` wants the
 * environment's name (typed at a terminal or --confirm-name; --yes alone is refused, exit 4),
 * deploy freezes refuse a deploy inside the window unless overridden with a reason, and both are
 * recorded in history with the actor.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, makeProject, type Project } from "./harness.js";

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
/** "Day HH:MM" (UTC) of `t`. */
const at = (t: Date) =>
  `${DAYS[t.getUTCDay()]} ${String(t.getUTCHours()).padStart(2, "0")}:${String(t.getUTCMinutes()).padStart(2, "0")}`;
/** A weekly freeze from an hour ago to an hour from now, and one that ended an hour ago. */
const now = Date.now();
const FREEZE_NOW = `${at(new Date(now - 3600_000))}-${at(new Date(now + 3600_000))}`;
const FREEZE_PAST = `${at(new Date(now - 3 * 3600_000))}-${at(new Date(now - 3600_000))}`;

function withProtect(p: Project, production: string, development = ""): void {
  let yaml = readFileSync(p.file, "utf8").replace("    protect: true", `    protect: ${production}`);
  if (development)
    yaml = yaml.replace("    target: process\n", `    target: process\n    protect: ${development}\n`);
  writeFileSync(p.file, yaml);
}

interface RevJson {
  result: { revision: { number: number; actor: string; facts: { protection?: Record<string, unknown> } } }[];
}

/** Run the CLI on a pseudo-terminal (util-linux script), answering `answer` to the name prompt. */
function onTerminal(p: Project, args: string[], answer: string): Promise<{ code: number; out: string }> {
  const cmd = [process.execPath, BIN, "-f", p.file, ...args].map((a) => `'${a}'`).join(" ");
  return new Promise((resolve) => {
    const child = spawn("script", ["-qec", cmd, "/dev/null"], { env: { ...p.env, SLIPWAY_ACTOR: "dora" } });
    let out = "";
    let answered = false;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (!answered && /type "production" to/.test(out)) {
        answered = true;
        child.stdin.write(answer + "\n");
      }
    });
    child.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

describe("protect: { confirm: name }", () => {
  it("refuses --yes alone and a wrong name; records the name given and who gave it", async () => {
    const p = (project = await makeProject());
    withProtect(p, "{ confirm: name }");
    const alone = p.cli(["deploy", "production", "--yes", "--version", "p1"]);
    expect(alone.code, alone.stderr).toBe(4);
    expect(alone.stderr).toMatch(/--confirm-name production \(--yes alone is not enough\)/);
    const wrong = p.cli(["deploy", "production", "--yes", "--confirm-name", "staging", "--json"]);
    expect(wrong.code).toBe(4);
    expect(wrong.json<{ error: { message: string } }>().error.message).toMatch(
      /"staging"\) is not "production"/,
    );
    expect(p.cli(["history", "production", "--json"]).json<RevJson>().result).toEqual([]);

    const ok = p.cli(["deploy", "production", "--confirm-name", "production", "--version", "p1", "--json"], {
      env: { SLIPWAY_ACTOR: "erin" },
    });
    expect(ok.code, ok.stderr).toBe(0);
    const [rev] = p.cli(["history", "production", "1", "--json"]).json<RevJson>().result;
    expect(rev.revision.facts.protection).toMatchObject({ operation: "deploy", via: "name" });
    expect(rev.revision.facts.protection?.actor).toMatch(/^erin@/);

    // At a terminal the name is asked for; a wrong answer changes nothing, the right one proceeds.
    const typo = await onTerminal(p, ["destroy", "production"], "prod");
    expect(typo.code, typo.out).toBe(4);
    const typed = await onTerminal(p, ["deploy", "production", "--version", "p2"], "production");
    expect(typed.code, typed.out).toBe(0);
    const [rev2] = p.cli(["history", "production", "2", "--json"]).json<RevJson>().result;
    expect(rev2.revision.facts.protection).toMatchObject({ via: "prompt" });
    expect(rev2.revision.facts.protection?.actor).toMatch(/^dora@/);

    // destroy has no revision: its confirmation goes to the event timeline.
    const gone = p.cli(["destroy", "production", "--confirm-name", "production"]);
    expect(gone.code, gone.stderr).toBe(0);
  });
});

describe("deploy freezes", () => {
  it("refuse a deploy inside a window unless overridden; the reason is recorded", async () => {
    const p = (project = await makeProject());
    withProtect(p, "true", `{ confirm: false, freeze: ["${FREEZE_PAST}", "${FREEZE_NOW}"] }`);
    const frozen = p.cli(["deploy", "development", "--version", "v1"]);
    expect(frozen.code, frozen.stderr).toBe(4);
    expect(frozen.stderr).toContain(`deploy freeze "${FREEZE_NOW}"`);
    const forced = p.cli([
      "deploy",
      "development",
      "--version",
      "v1",
      "--override-freeze",
      "hotfix INC-42",
      "--json",
    ]);
    expect(forced.code, forced.stderr).toBe(0);
    const [rev] = p.cli(["history", "development", "1", "--json"]).json<RevJson>().result;
    expect(rev.revision.facts.protection).toMatchObject({
      operation: "deploy",
      freeze: { window: FREEZE_NOW, reason: "hotfix INC-42" },
    });
    // Rollback is an incident tool: never frozen.
    expect(p.cli(["deploy", "development", "--version", "v2", "--override-freeze", "again"]).code).toBe(0);
    expect(p.cli(["rollback", "development", "v1"]).code).toBe(0);
  });
});
