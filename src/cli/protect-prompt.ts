/** The CLI half of `protect: { confirm: name }`: the typed name, asked at a terminal. */
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { confirmationName } from "../core.js";
import type { Resolution } from "../index.js";

export interface ProtectFlags {
  confirmName?: string;
  overrideFreeze?: string;
  dryRun?: boolean;
}

/** --confirm-name (and --override-freeze for deploy) on a changing command. */
export function protectOptions(cmd: Command, freeze = false): Command {
  cmd.option(
    "--confirm-name <name>",
    "the environment's name (its cluster's, when the target names one), for `protect: { confirm: name }` without a terminal",
  );
  if (freeze)
    cmd.option(
      "--override-freeze <reason>",
      "deploy inside a `protect.freeze` window; the reason is recorded",
    );
  return cmd;
}

/**
 * The operation's protection arguments. A `confirm: name` environment at a terminal, without
 * --confirm-name, asks for the name; the engine judges the answer (and records it as typed).
 */
export async function protectionArgs(
  res: Resolution,
  what: string,
  o: ProtectFlags,
  json = false,
): Promise<Record<string, unknown>> {
  const args: Record<string, unknown> = {};
  if (o.overrideFreeze !== undefined) args.overrideFreeze = o.overrideFreeze;
  if (o.confirmName !== undefined) args.confirmName = o.confirmName;
  const interactive = process.stdin.isTTY && process.stderr.isTTY && !json;
  if (res.spec.protect?.confirm !== "name" || o.confirmName !== undefined || o.dryRun || !interactive)
    return args;
  const name = confirmationName(res.spec);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const typed = await rl.question(`? ${res.spec.env} is protected: type "${name}" to ${what}: `);
    return { ...args, confirmName: typed.trim(), namePrompted: true };
  } finally {
    rl.close();
  }
}
