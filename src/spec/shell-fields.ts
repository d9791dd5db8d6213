/**
 * Fields run under `sh -c`: a ${VAR} pasted into them becomes shell code (a value
 * `x'; touch /tmp/pwned; echo '` runs) and shows in `ps`. Variables reach those commands through
 * the environment instead, where the shell expands "$NAME" as data.
 */
import type { PathSegment } from "./load.js";

/** Variables whose value Slipway checks itself (VERSION follows the release-label grammar). */
export const SAFE_IN_SHELL = new Set(["VERSION"]);

/** How to give a variable to this shell field instead; undefined when the path is no shell field. */
export function shellFieldFix(path: PathSegment[], name: string): string | undefined {
  const [top, , field, sub] = path;
  const where = `write "$${name}" in the command`;
  if (top === "services" && field === "run")
    return `give the value through the service's env (env: { ${name}: "\${${name}}" }) and ${where}`;
  if (top === "services" && field === "migrate" && (sub === "up" || sub === "down" || sub === "status"))
    return `give the value through the service's env (env: { ${name}: "\${${name}}" }) and ${where}`;
  if (top === "services" && field === "health" && sub === "exec")
    return `give the value through the service's env (env: { ${name}: "\${${name}}" }) and ${where}`;
  const check = top === "checks" && path[2] === "command";
  if (check && (path.length === 3 || path[3] === "run"))
    return `use the command's env (command: { run: …, env: { ${name}: "\${${name}}" } }) and ${where}`;
  return undefined;
}

/** The refusal for ${names} found in a shell field, or undefined when there is none. */
export function shellSecretProblem(path: PathSegment[], names: string[]): string | undefined {
  const unsafe = [...new Set(names.filter((n) => !SAFE_IN_SHELL.has(n)))];
  if (!unsafe.length) return undefined;
  const fix = shellFieldFix(path, unsafe[0] as string);
  if (!fix) return undefined;
  const list = unsafe.map((n) => `\${${n}}`).join(", ");
  return (
    `${list} would be pasted into a shell command (a value can then run as code, and shows in ps): ` +
    `${fix}`
  );
}
