import type { Cli } from "../runtime.js";
import { green } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("validate")
    .description("check slipway.yaml: exit 2 with file:line:column messages when it is wrong")
    .action(
      cli.action(async () => {
        const { loadSpecFile } = await import("../../spec/load.js");
        const { validateAll } = await import("../../spec/resolve.js");
        const loaded = loadSpecFile(cli.opts.file);
        const envs = validateAll(loaded);
        cli.finish({ file: loaded.file, environments: envs }, (out) =>
          out.stdout(green(out, `✔ ${loaded.file} is valid (environments: ${envs.join(", ")})`)),
        );
      }),
    );
}
