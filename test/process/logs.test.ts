import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { LogLine } from "../../src/drivers/driver.js";
import { waitFor } from "../support/ports.js";
import { NODE, request, sandbox, service, type Sandbox } from "./helpers.js";

let sb: Sandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

/** Prints `line N` (N from 0) every `every` ms, `count` lines, then idles. */
const TICKER_JS = `
const count = Number(process.argv[2]), every = Number(process.argv[3]);
let n = 0;
const pad = "x".repeat(40);
const t = setInterval(() => {
  (n % 5 === 4 ? console.error : console.log)("line " + n + " " + pad);
  if (++n >= count) clearInterval(t);
}, every);
setInterval(() => {}, 1 << 30);`;

function numbers(lines: LogLine[]): number[] {
  return lines.map((l) => /^line (\d+) /.exec(l.line)).flatMap((m) => (m ? [Number(m[1])] : []));
}

describe("process logs", () => {
  it("rotates at maxSize, keeps maxFiles rotated files, and tails across them in order", async () => {
    sb = sandbox({ "ticker.mjs": TICKER_JS });
    const svc = service(sb.app, {
      run: `${NODE} ticker.mjs 120 1`,
      port: undefined,
      logs: { maxSize: 2000, maxFiles: 2 },
    });
    const inst = await sb.driver.start(await request(sb.driver, svc));
    const tailOf = async (n: number) => {
      const out: LogLine[] = [];
      for await (const l of sb!.driver.logs([inst], { tail: n })) out.push(l);
      return out;
    };
    await waitFor(async () => numbers(await tailOf(1)).includes(119), { what: "line 119" });
    const dir = join(sb.home, "instances", "hello", "dev", inst.id, "logs");
    for (const f of ["app.log", "app.log.1", "app.log.2"]) {
      expect(existsSync(join(dir, f)), f).toBe(true);
      expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(2000);
    }
    expect(existsSync(join(dir, "app.log.3"))).toBe(false);
    // Each line carries its time and stream.
    expect(readFileSync(join(dir, "app.log"), "utf8")).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z (stdout|stderr) line \d+/,
    );

    const last = await tailOf(40);
    expect(last).toHaveLength(40);
    expect(numbers(last)).toEqual(Array.from({ length: 40 }, (_, i) => 80 + i));
    expect(last.find((l) => l.line.startsWith("line 84 "))?.stream).toBe("stderr");
    expect(last.find((l) => l.line.startsWith("line 85 "))?.stream).toBe("stdout");
    expect(last.every((l) => l.instance === inst.id && typeof l.time === "string")).toBe(true);
    // Older lines than the files hold are gone: at most 3 files of 2000 bytes.
    const all = await tailOf(10_000);
    expect(all.length).toBeLessThan(120);
    expect(numbers(all).at(-1)).toBe(119);
  });

  it("sinceMs keeps only recent lines", async () => {
    sb = sandbox({});
    const svc = service(sb.app, { run: "echo old; sleep 1.2; echo new; sleep 30", port: undefined });
    const inst = await sb.driver.start(await request(sb.driver, svc));
    const read = async (sinceMs?: number) => {
      const out: string[] = [];
      for await (const l of sb!.driver.logs([inst], { sinceMs })) out.push(l.line);
      return out;
    };
    await waitFor(async () => (await read()).includes("new"));
    const recent = await read(600);
    expect(recent).toContain("new");
    expect(recent).not.toContain("old");
    expect(await read()).toEqual(expect.arrayContaining(["old", "new"]));
  });

  it("follows appended lines across rotations, without gaps, until aborted", async () => {
    sb = sandbox({ "ticker.mjs": TICKER_JS });
    // ~80-byte lines, 600-byte files: a rotation every ~7 lines (~200 ms), several per poll at times.
    const svc = service(sb.app, {
      run: `${NODE} ticker.mjs 100000 30`,
      port: undefined,
      logs: { maxSize: 600, maxFiles: 3 },
    });
    const [a, b] = await Promise.all(
      [0, 1].map(async (index) => sb!.driver.start(await request(sb!.driver, svc, { index }))),
    );
    const ac = new AbortController();
    const got: LogLine[] = [];
    for await (const l of sb.driver.logs([a, b], { tail: 2, follow: true, signal: ac.signal })) {
      got.push(l);
      if (got.filter((x) => x.instance === a.id).length >= 40) ac.abort();
    }
    for (const inst of [a, b]) {
      const ns = numbers(got.filter((l) => l.instance === inst.id));
      expect(ns.length).toBeGreaterThan(2);
      // Consecutive numbers: no line lost or doubled across rotations.
      expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => ns[0] + i));
    }
    const dir = join(sb.home, "instances", "hello", "dev", a.id, "logs");
    expect(existsSync(join(dir, "app.log.1"))).toBe(true);
  });
});
