import type { Cli } from "../runtime.js";
import { loadSpecExtras } from "../../core.js";

export function register(cli: Cli): void {
  cli.program
    .command("schema")
    .description("print the JSON Schema of slipway.yaml (for editor completion)")
    .action(
      cli.action(async () => {
        const { jsonSchema } = await loadSpecExtras();
        process.stdout.write(JSON.stringify(jsonSchema(), null, 2) + "\n");
      }),
    );
}
