/**
 * What the supervisor hands to `/bin/sh -c`. A simple command gets `exec` in front, so the shell
 * replaces itself with the application: the recorded pid is the app's (the one listening on
 * $PORT) and its stop signal reaches the app without a shell in between. dash, Debian's /bin/sh,
 * does not do that on its own. Anything that really needs the shell (pipes, lists, `&&`,
 * subshells, builtins, keywords) is left as it is.
 */

/** Shell keywords and builtins: `exec` in front of them would not run them (or would change them). */
const SHELL_WORDS = new Set(
  [
    "! { } [[ ]] if then else elif fi do done case esac while until for in function select ",
    "time coproc . : break continue eval exec exit export readonly return set shift times ",
    "trap unset source local declare typeset cd alias unalias umask wait command type hash ",
    "getopts read jobs fg bg ulimit builtin let shopt",
  ]
    .join("")
    .split(" "),
);

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/**
 * The words of `run` (raw text, quotes kept) when it is one simple command, else undefined:
 * outside quotes, no `;`, `|`, `&` (but `2>&1` is fine), parentheses, backquotes or newlines.
 */
function simpleWords(run: string): { text: string; start: number }[] | undefined {
  const words: { text: string; start: number }[] = [];
  let start = -1;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < run.length; i++) {
    const c = run[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"') i++;
      continue;
    }
    if (c === " " || c === "\t") {
      if (start >= 0) words.push({ text: run.slice(start, i), start });
      start = -1;
      continue;
    }
    if (start < 0) {
      // A comment runs to the end of the line: nothing after it is part of the command.
      if (c === "#") break;
      start = i;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === "\\") i++;
    else if (c === "&" && (run[i - 1] === ">" || run[i - 1] === "<")) continue;
    else if (";|&()`\n\r".includes(c)) return undefined;
  }
  if (quote) return undefined; // unbalanced: let the shell report it
  if (start >= 0) words.push({ text: run.slice(start), start });
  return words;
}

/** `run` as given to `/bin/sh -c`, with `exec` before the command name when that is safe. */
export function execCommand(run: string): string {
  const words = simpleWords(run);
  if (!words) return run;
  // Leading NAME=value words are exported to the command, also through exec (POSIX 2.9.1).
  const cmd = words.find((w) => !ASSIGNMENT.test(w.text));
  if (!cmd) return run;
  // A redirection before the name would make a later assignment an argument of exec.
  if (/^[0-9]*[<>]/.test(cmd.text) || SHELL_WORDS.has(cmd.text)) return run;
  return `${run.slice(0, cmd.start)}exec ${run.slice(cmd.start)}`;
}
