/**
 * Docker Engine for tests: starts `dockerd` when /var/run/docker.sock does not answer (CI's
 * .ci/run starts it too) and builds the offline test images with scripts/build-test-images.sh.
 */
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, openSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { waitFor } from "./ports.js";

const exec = promisify(execFile);
export const DOCKER_SOCKET = "/var/run/docker.sock";
export const TEST_IMAGES = [
  "slipway-test/busybox",
  "slipway-test/node",
  "slipway-test/app",
  "slipway-test/redis",
] as const;

/** True when the engine answers GET /_ping on the socket. */
export function dockerAnswers(socketPath = DOCKER_SOCKET): Promise<boolean> {
  return new Promise((res) => {
    const req = request({ socketPath, path: "/_ping", timeout: 2000 }, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.on("error", () => res(false));
    req.on("timeout", () => {
      req.destroy();
      res(false);
    });
    req.end();
  });
}

let starting: Promise<void> | undefined;

/**
 * Start dockerd in the background (detached, it outlives the test run so that other suites and
 * engineers share one engine) unless the socket already answers.
 */
export function ensureDocker(): Promise<void> {
  starting ??= (async () => {
    if (await dockerAnswers()) return;
    const dir = mkdtempSync(join(tmpdir(), "slipway-dockerd-"));
    const log = openSync(join(dir, "dockerd.log"), "a");
    const child = spawn("dockerd", [], { detached: true, stdio: ["ignore", log, log] });
    child.unref();
    await waitFor(() => dockerAnswers(), {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: `dockerd to answer on ${DOCKER_SOCKET} (log: ${join(dir, "dockerd.log")})`,
    });
  })();
  return starting;
}

/**
 * Build the offline test images. The script is idempotent and checks a hash of each image's
 * inputs (~0.2 s when everything is up to date), so a changed test app is always rebuilt.
 */
export async function ensureTestImages(opts: { force?: boolean } = {}): Promise<void> {
  await ensureDocker();
  const script = fileURLToPath(new URL("../../scripts/build-test-images.sh", import.meta.url));
  try {
    await exec("sh", [script, ...(opts.force ? ["--force"] : [])], { timeout: 300_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`scripts/build-test-images.sh failed: ${err.stderr || err.message}`);
  }
  for (const img of TEST_IMAGES) await exec("docker", ["image", "inspect", "-f", "{{.Id}}", img]);
}

/** Remove every container, network and volume labelled with this Slipway project (test cleanup). */
export async function removeProject(project: string): Promise<void> {
  const label = `label=slipway.project=${project}`;
  const ids = (await exec("docker", ["ps", "-aq", "--filter", label])).stdout.split(/\s+/).filter(Boolean);
  if (ids.length) await exec("docker", ["rm", "-f", "-v", ...ids]).catch(() => undefined);
  const nets = (await exec("docker", ["network", "ls", "-q", "--filter", label])).stdout
    .split(/\s+/)
    .filter(Boolean);
  if (nets.length) await exec("docker", ["network", "rm", ...nets]).catch(() => undefined);
  const vols = (await exec("docker", ["volume", "ls", "-q", "--filter", label])).stdout
    .split(/\s+/)
    .filter(Boolean);
  if (vols.length) await exec("docker", ["volume", "rm", "-f", ...vols]).catch(() => undefined);
  const imgs = (await exec("docker", ["images", "-q", "--filter", label])).stdout
    .split(/\s+/)
    .filter(Boolean);
  if (imgs.length) await exec("docker", ["rmi", "-f", ...new Set(imgs)]).catch(() => undefined);
  // The revision tags Slipway gave a test image (slipway/<project>-<env>-<service>:rN): untag them
  // by name, never by id (the id is the shared test image's).
  const tags = (
    await exec("docker", [
      "images",
      "--format",
      "{{.Repository}}:{{.Tag}}",
      "--filter",
      `reference=slipway/${project.toLowerCase()}-*`,
    ])
  ).stdout
    .split(/\s+/)
    .filter(Boolean);
  if (tags.length) await exec("docker", ["rmi", ...tags]).catch(() => undefined);
}
