/** `--group G` and `--skip-group G` (each repeatable) of `deploy` and `plan`. */
import type { Command } from "commander";

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function groupOptions(cmd: Command): Command {
  return cmd
    .option("--group <group>", "only the services of this group (repeatable)", collect)
    .option("--skip-group <group>", "leave this group's services as they run (repeatable)", collect);
}

export function groupArgs(o: { group?: string[]; skipGroup?: string[] }) {
  return { groups: o.group, skipGroups: o.skipGroup };
}
