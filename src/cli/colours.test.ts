import { describe, expect, it } from "vitest";
import { colourWanted, palette } from "./colours.js";

const tty = { isTTY: true };
const pipe = { isTTY: false };

describe("colourWanted", () => {
  it("paints a terminal, not a pipe", () => {
    expect(colourWanted(false, {}, tty)).toBe(true);
    expect(colourWanted(false, {}, pipe)).toBe(false);
    expect(colourWanted(false, { TERM: "dumb" }, tty)).toBe(false);
  });

  it("--no-color and NO_COLOR switch colours off, even when forced", () => {
    expect(colourWanted(true, {}, tty)).toBe(false);
    expect(colourWanted(false, { NO_COLOR: "1" }, tty)).toBe(false);
    expect(colourWanted(true, { FORCE_COLOR: "1" }, tty)).toBe(false);
    expect(colourWanted(false, { NO_COLOR: "1", FORCE_COLOR: "1" }, pipe)).toBe(false);
    // An empty NO_COLOR does not count (no-color.org).
    expect(colourWanted(false, { NO_COLOR: "" }, tty)).toBe(true);
  });

  it("FORCE_COLOR paints a pipe; FORCE_COLOR=0 keeps a terminal plain", () => {
    expect(colourWanted(false, { FORCE_COLOR: "1" }, pipe)).toBe(true);
    expect(colourWanted(false, { FORCE_COLOR: "" }, pipe)).toBe(true);
    expect(colourWanted(false, { FORCE_COLOR: "0" }, tty)).toBe(false);
    expect(colourWanted(false, { FORCE_COLOR: "false" }, tty)).toBe(false);
  });
});

describe("palette", () => {
  it("paints with ANSI codes when on and leaves text alone when off", () => {
    expect(palette(true).red("x")).toBe("\x1b[31mx\x1b[39m");
    expect(palette(true).dim("x")).toBe("\x1b[2mx\x1b[22m");
    expect(palette(false).red("x")).toBe("x");
  });
});
