import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { execCommand } from "./exec-command.js";

describe("execCommand", () => {
  it("puts exec before the name of a simple command, after its NAME=value words", () => {
    expect(execCommand("node server.js")).toBe("exec node server.js");
    expect(execCommand("node server.js --port $PORT 2>&1 >>out.log")).toBe(
      "exec node server.js --port $PORT 2>&1 >>out.log",
    );
    expect(execCommand(`node -e "a && b; (c)" 'x | y'`)).toBe(`exec node -e "a && b; (c)" 'x | y'`);
    expect(execCommand("A=1 B='two words' node app.js")).toBe("A=1 B='two words' exec node app.js");
    expect(execCommand("node app.js # ; comment")).toBe("exec node app.js # ; comment");
  });

  it("leaves what needs the shell as it is", () => {
    for (const run of [
      "node a.js | cat",
      "npm run build && node dist/x.js",
      "node a.js; node b.js",
      "node a.js &",
      "(cd web && node x.js)",
      "node $(cat args)",
      "node `cat args`",
      "node a.js\nnode b.js",
      "cd web",
      "exec node a.js",
      "if true; then node a.js; fi",
      "A=1",
      ">log A=1 node a.js",
      "node 'unbalanced",
      "",
    ])
      expect(execCommand(run), run).toBe(run);
  });

  it("keeps what the shell does with the command: assignments, quotes, expansions", () => {
    const run = `GREETING=hi LIST='a b' sh -c 'echo "$GREETING|$LIST|$0|$HOME_X"' "\${HOME_X}"`;
    const out = (cmd: string) =>
      spawnSync("/bin/sh", ["-c", cmd], { encoding: "utf8", env: { PATH: process.env.PATH, HOME_X: "h" } })
        .stdout;
    expect(execCommand(run)).not.toBe(run);
    expect(out(execCommand(run))).toBe(out(run));
    expect(out(run)).toBe("hi|a b|h|h\n");
  });
});
