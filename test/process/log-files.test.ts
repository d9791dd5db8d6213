import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RotatingLog } from "../../src/drivers/process/log-writer.js";
import {
  Follower,
  linesBackward,
  logFilesNewestFirst,
  tailLines,
} from "../../src/drivers/process/log-reader.js";

let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("rotated log files", () => {
  it("joins partial lines per stream, strips CR, keeps multibyte text whole", () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-logfiles-"));
    const log = new RotatingLog(dir, 1_000_000, 2);
    log.write("stdout", "hel");
    log.write("stderr", "err one\r\nerr ");
    log.write("stdout", "lo wörld\n");
    log.write("stderr", "two");
    log.close();
    const lines = tailLines(logFilesNewestFirst(dir, "app.log"), {});
    expect(lines.map((l) => [l.stream, l.line])).toEqual([
      ["stderr", "err one"],
      ["stdout", "hello wörld"],
      ["stderr", "err two"],
    ]);
  });

  it("reads backwards across chunk boundaries and follows a file from its end", () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-logfiles-"));
    const log = new RotatingLog(dir, 10_000_000, 1);
    const long = "é".repeat(40_000); // 80 KB: longer than one backward read chunk
    log.write("stdout", `a\n${long}\nb\n`);
    const back = [...linesBackward(join(dir, "app.log"))].map((l) => l.slice(l.indexOf(" stdout ") + 8));
    expect(back).toEqual(["b", long, "a"]);

    const f = new Follower(join(dir, "app.log"));
    expect(f.poll()).toEqual([]);
    log.write("stdout", "c\nd");
    expect(f.poll().map((l) => l.line)).toEqual(["c"]);
    log.write("stdout", "\n");
    expect(f.poll().map((l) => l.line)).toEqual(["d"]);
    f.close();
    log.close();
  });

  it("never writes a file past maxSize (unless one line is larger) and drops the oldest", () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-logfiles-"));
    const log = new RotatingLog(dir, 500, 2);
    let chunk = "";
    for (let i = 0; i < 100; i++) chunk += `line ${i}\n`;
    log.write("stdout", chunk);
    log.close();
    const files = logFilesNewestFirst(dir, "app.log");
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(["app.log", "app.log.1", "app.log.2"]);
    for (const f of files) expect(readFileSync(f).length).toBeLessThanOrEqual(500);
    const kept = tailLines(files, {}).map((l) => Number(l.line.slice(5)));
    expect(kept.at(-1)).toBe(99);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => kept[0] + i));
    expect(kept[0]).toBeGreaterThan(0);
  });
});
