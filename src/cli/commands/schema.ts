import { z } from "zod";
import type { Cli } from "../runtime.js";
import { specSchema } from "../../spec/schema.js";

/** The JSON Schema of slipway.yaml, generated from the same zod schema (editor completion). */
export function jsonSchema(): unknown {
  return {
    $id: "https://slipway.dev/schema/slipway.json",
    title: "slipway.yaml",
    ...z.toJSONSchema(specSchema, { io: "input", unrepresentable: "any", target: "draft-7" }),
  };
}

export function register(cli: Cli): void {
  cli.program
    .command("schema")
    .description("print the JSON Schema of slipway.yaml (for editor completion)")
    .action(
      cli.action(async () => {
        process.stdout.write(JSON.stringify(jsonSchema(), null, 2) + "\n");
      }),
    );
}
