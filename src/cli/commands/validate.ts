import type { Cli } from "../runtime.js";
import { loadSpecTools } from "../../core.js";
import { green } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("validate")
    .description("check slipway.yaml: exit 2 with file:line:column messages when it is wrong")
    .action(
      cli.action(async () => {
        const { loadSpecFile, validateAll } = await loadSpecTools();
        const loaded = loadSpecFile(cli.opts.file);
        const envs = validateAll(loaded);
        cli.finish({ file: loaded.file, environments: envs }, (out) =>
          out.stdout(green(out, `✔ ${loaded.file} is valid (environments: ${envs.join(", ")})`)),
        );
      }),
    );
}
