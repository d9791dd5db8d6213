/**
 * `confirm` checks in daemon mode: the items are recorded as confirmed by the person running the
 * CLI (not the daemon's user), `via: "prompt"` for an item answered at the terminal and
 * `via: "flag"` for --confirm, and `slipway history ENV REV` shows both.
 */
import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, makeProject, type Project } from "./harness.js";

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

const CHECKS = `checks:
  - confirm: ["team notified", "rollback plan ready"]
`;

/** Run the CLI on a pseudo-terminal (util-linux script) and answer "y" to every prompt. */
function onTerminal(
  p: Project,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; out: string }> {
  const cmd = [process.execPath, BIN, "-f", p.file, ...args]
    .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
    .join(" ");
  return new Promise((resolve) => {
    const child = spawn("script", ["-qec", cmd, "/dev/null"], { env: { ...p.env, ...env } });
    let out = "";
    let answered = 0;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const asked = out.split("confirmed? [y/N]").length - 1;
      for (; answered < asked; answered++) child.stdin.write("y\n");
    });
    child.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

interface ConfirmDetails {
  confirmedBy: string;
  items: { item: string; confirmed: boolean; via?: string }[];
}

describe("confirm checks through the daemon", () => {
  it("records the CLI user and how each item was confirmed; history shows it", async () => {
    const p = (project = await makeProject(CHECKS));
    // The daemon starts (on demand) as someone else.
    expect(p.cli(["status", "development"], { env: { SLIPWAY_ACTOR: "daemon-user" } }).code).toBe(0);
    const d = await onTerminal(
      p,
      ["deploy", "development", "--version", "v1", "--confirm", "team notified"],
      {
        SLIPWAY_ACTOR: "alice",
      },
    );
    expect(d.out).toContain("rollback plan ready — confirmed? [y/N]");
    expect(d.out).not.toContain("team notified — confirmed?");
    expect(d.code, d.out).toBe(0);

    const h = p
      .cli(["history", "development", "1", "--json"])
      .json<{ result: { revision: { facts: { checks: { kind: string; details: ConfirmDetails }[] } } }[] }>();
    const confirm = h.result[0].revision.facts.checks.find((c) => c.kind === "confirm")!;
    expect(confirm.details.confirmedBy).toMatch(/^alice@/);
    expect(confirm.details.items).toEqual([
      { item: "team notified", confirmed: true, via: "flag" },
      { item: "rollback plan ready", confirmed: true, via: "prompt" },
    ]);
    const text = p.cli(["history", "development", "1"]).stdout;
    expect(text).toMatch(/confirmed "team notified" by alice@\S+ \(--confirm\)/);
    expect(text).toMatch(/confirmed "rollback plan ready" by alice@\S+ \(at the prompt\)/);

    // `slipway check` records the same way.
    const c = await onTerminal(p, ["check", "development", "--json"], { SLIPWAY_ACTOR: "bob" });
    expect(c.code).toBe(1); // --json never prompts: both items unconfirmed
    const c2 = await onTerminal(p, ["check", "development", "--confirm", "rollback plan ready"], {
      SLIPWAY_ACTOR: "bob",
    });
    expect(c2.code, c2.out).toBe(0);
    expect(c2.out).toMatch(/confirmed by bob@/);
  });
});
