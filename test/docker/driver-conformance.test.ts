/**
 * The driver conformance suite (src/drivers/driver.case.ts) against the real Docker Engine and
 * the offline test image of scripts/build-test-images.sh.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DockerDriver } from "../../src/drivers/docker/docker-driver.js";
import { runDriverConformance } from "../../src/drivers/driver.case.js";
import { ensureTestImages, removeProject } from "../support/docker.js";
import { service, uniqueProject } from "./helpers.js";

runDriverConformance("docker", async () => {
  await ensureTestImages();
  const home = mkdtempSync(join(tmpdir(), "slipway-docker-conf-"));
  const project = uniqueProject("conf");
  const driver = new DockerDriver({ home });
  return {
    driver,
    reopen: () => new DockerDriver({ home }),
    project,
    env: "test",
    service: service("web", { image: "slipway-test/app:latest", port: 8080, containerPort: 3000 }),
    startLine: /listening on 3000/,
    dispose: async () => {
      await driver.close();
      await removeProject(project);
      rmSync(home, { recursive: true, force: true });
    },
  };
});
