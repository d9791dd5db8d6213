/** The driver conformance suite (src/drivers/driver.case.ts) against the process driver. */
import { ProcessDriver } from "../../src/drivers/process/process-driver.js";
import { runDriverConformance } from "../../src/drivers/driver.case.js";
import { SERVER_JS, sandbox, service } from "./helpers.js";

runDriverConformance("process", async () => {
  const sb = sandbox({ "server.mjs": SERVER_JS });
  return {
    driver: sb.driver,
    reopen: () => new ProcessDriver({ home: sb.home }),
    project: "hello",
    env: "dev",
    service: service(sb.app),
    startLine: /^listening on \d+$/,
    dispose: async () => sb.cleanup(),
  };
});
