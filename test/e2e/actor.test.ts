/**
 * Who did it, in daemon mode: revisions and the deploy lock name the person whose CLI sent the
 * operation (user@host), not the user the daemon runs as.
 */
import { afterEach, describe, expect, it } from "vitest";
import { makeProject, waitFor, type Project } from "./harness.js";

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

interface HistoryJson {
  result: { revision: { number: number; actor: string; description: string; rollbackOf?: number } }[];
}

describe("the actor of an operation run through the daemon", () => {
  it("revisions and the lock record the CLI's user, not the daemon's", async () => {
    const p = (project = await makeProject());
    const as = (user: string) => ({ SLIPWAY_ACTOR: user });
    // The daemon starts (on demand) as someone else.
    expect(p.cli(["status", "development"], { env: as("daemon-user") }).code).toBe(0);

    // alice's deploy holds the lock while api starts slowly; bob is told who holds it.
    const first = p.cliAsync(["deploy", "development", "--version", "v1"], {
      env: { ...as("alice"), START_DELAY_MS: "1500" },
    });
    let holder = "";
    await waitFor(
      () => {
        const l = p
          .cli(["lock", "development", "--json"])
          .json<{ result: { lock: { holder: string } | null } }>();
        holder = l.result.lock?.holder ?? "";
        return holder !== "";
      },
      { what: "alice's deploy holds the lock", timeoutMs: 15_000 },
    );
    expect(holder).toMatch(/^alice@\S+ pid \d+\/\d+@/);
    const blocked = p.cli(["deploy", "development", "--version", "v9"], { env: as("bob") });
    expect(blocked.code).toBe(3);
    expect(blocked.stderr).toMatch(/locked by alice@\S+ pid \d+\/\d+@\S+ \(deploy\)/);
    const d1 = await first;
    expect(d1.code, d1.stderr).toBe(0);

    expect(p.cli(["deploy", "development", "--version", "v2"], { env: as("bob") }).code).toBe(0);
    const rb = p.cli(["rollback", "development", "1"], { env: as("carol") });
    expect(rb.code, rb.stderr).toBe(0);

    const h = p.cli(["history", "development", "--json"]).json<HistoryJson>().result;
    expect(h.map((x) => [x.revision.number, x.revision.actor.split("@")[0]])).toEqual([
      [3, "carol"],
      [2, "bob"],
      [1, "alice"],
    ]);
    expect(h[0].revision.rollbackOf).toBe(1);
    const st = p
      .cli(["status", "development", "--json"])
      .json<{ result: { revision: { number: number; actor: string } } }>().result;
    expect(st.revision.actor).toMatch(/^carol@/);
    expect(p.cli(["history", "development"]).stdout).toContain("carol@");
  });
});
