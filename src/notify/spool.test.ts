/** The local spool: order kept, a refused line and the rest put back, an interrupted drain resumed. */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Spool } from "./spool.js";
import type { SpooledAlert } from "./spool.js";

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const alert = (message: string): SpooledAlert => ({
  project: "shop",
  env: "production",
  event: { project: "shop", env: "production", kind: "deploy.failed", severity: "critical", message },
});

function spool(): Spool {
  dir = mkdtempSync(join(tmpdir(), "slipway-spool-"));
  return new Spool(join(dir, "notify", "spool.jsonl"));
}

describe("Spool", () => {
  it("drains in order; what the store refuses goes back before what arrived meanwhile", async () => {
    const s = spool();
    s.append([alert("a"), alert("b"), alert("c")]);
    expect(statSync(s.file).mode & 0o777).toBe(0o600);
    const seen: string[] = [];
    await expect(
      s.drain(async (x) => {
        if (x.event.message === "b") {
          s.append([alert("d")]); // raised during the drain
          throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        }
        seen.push(x.event.message);
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
    expect(seen).toEqual(["a"]);
    expect(s.read().map((x) => x.event.message)).toEqual(["b", "c", "d"]);
    expect(await s.drain(async (x) => void seen.push(x.event.message))).toBe(3);
    expect(seen).toEqual(["a", "b", "c", "d"]);
    expect(s.pending()).toBe(false);
  });

  it("resumes a drain a crash interrupted, and skips a line cut short", async () => {
    const s = spool();
    s.append([alert("x")]);
    writeFileSync(`${s.file}.draining`, `${JSON.stringify(alert("first"))}\n{"project":"sh`);
    const seen: string[] = [];
    await s.drain(async (a) => void seen.push(a.event.message));
    expect(seen).toEqual(["first"]);
    await s.drain(async (a) => void seen.push(a.event.message));
    expect(seen).toEqual(["first", "x"]);
  });
});
