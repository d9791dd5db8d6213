/**
 * A reviewed plan kept in a file (`slipway plan ENV --out FILE`) and applied exactly by
 * `slipway deploy ENV --plan FILE` (engine/deploy-saved.ts). The file is one JSON document: the
 * slipway plan, each Terraform plan file (base64), digests of the resolved spec (HMACs under the
 * daemon home's key, so secret values stay unguessable) and of each Terraform configuration, the
 * state it was made against (revisions, serving instances, each Terraform state's serial), and a
 * digest of all of it, so a damaged or edited file is refused.
 */
import { createHash, createHmac } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { Refused } from "../../errors.js";
import type { ResolvedSpec } from "../../spec/resolved.js";
import { homeKey } from "../../util/home-key.js";
import { canonical } from "../carry.js";
import type { Plan } from "../plan.js";
import type { TerraformSummary } from "./terraform.js";

export const SAVED_PLAN_FORMAT = "slipway-plan/1";

/** The plan options a saved plan was made with; the deploy uses them (they are part of the plan). */
export interface SavedOptions {
  only?: string[];
  groups?: string[];
  skipGroups?: string[];
  skipChecks?: boolean;
  forceRecreate?: string[] | true;
}

export interface SavedTerraform {
  name: string;
  /** What the plan adds, changes and destroys, and the outputs it knows (planFile left empty). */
  summary: TerraformSummary;
  /** The Terraform plan file, base64, and its sha256. */
  file: string;
  sha256: string;
  /** The state the plan was made against (`terraform state pull`); null before the first apply. */
  state: { serial: number; lineage: string } | null;
  /** sha256 of each file of the configuration directory (.tf, .tf.json, .tfvars, .hcl). */
  config: Record<string, string>;
}

export interface SavedPlan {
  format: typeof SAVED_PLAN_FORMAT;
  createdAt: string;
  actor: string;
  project: string;
  env: string;
  version: string;
  options: SavedOptions;
  /** What was deployed when the plan was made. */
  madeAgainst: {
    currentRevision: number | null;
    lastRevision: number;
    /** Service → its instances' ids (sorted), as they ran. */
    instances: Record<string, string[]>;
  };
  /** HMACs of the resolved spec, per part (`services.NAME`, then each other top-level field). */
  specParts: Record<string, string>;
  /** Service → its deploy fingerprint (spec and source: image id, release files). */
  fingerprints: Record<string, string>;
  plan: Plan;
  terraform: SavedTerraform[];
  /** sha256 of the canonical JSON of every other field. */
  digest: string;
}

/** The resolved spec's parts, each an HMAC under the home key (secret values are in the spec). */
export function specParts(home: string, spec: ResolvedSpec): Record<string, string> {
  const key = homeKey(home);
  const mac = (v: unknown) => createHmac("sha256", key).update(canonical(v)).digest("hex");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec)) {
    if (k === "services") continue;
    if (v !== undefined) out[k] = mac(v);
  }
  for (const [n, s] of Object.entries(spec.services)) out[`services.${n}`] = mac(s);
  return out;
}

/** The names whose digests differ (added, removed or changed). */
export function changedKeys(before: Record<string, string>, now: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(now)]);
  return [...keys].filter((k) => before[k] !== now[k]).sort();
}

const CONFIG_FILE = /\.(tf|tf\.json|tfvars|tfvars\.json|hcl)$/;

/** sha256 of each configuration file under `dir` (Terraform's own working files left out). */
export function configDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, depth: number) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (depth < 8 && !e.name.startsWith(".") && e.name !== "terraform.tfstate.d") walk(p, depth + 1);
      } else if (CONFIG_FILE.test(e.name) && statSync(p).size < 16 * 1024 * 1024)
        out[relative(dir, p)] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  walk(dir, 0);
  return out;
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** The document with its digest set (over its JSON form: what the file holds). */
export function seal(doc: Omit<SavedPlan, "digest">): SavedPlan {
  const plain = JSON.parse(JSON.stringify(doc)) as Omit<SavedPlan, "digest">;
  return { ...plain, digest: sha256(canonical(plain)) };
}

const damaged = (why: string) =>
  new Refused(`the plan file is damaged (${why}): make a new one with \`slipway plan ENV --out FILE\``);

/** A saved plan as received: its format, digest and Terraform files checked (Refused otherwise). */
export function openSaved(raw: unknown): SavedPlan {
  if (!raw || typeof raw !== "object") throw damaged("not a JSON object");
  const doc = raw as Partial<SavedPlan>;
  if (doc.format !== SAVED_PLAN_FORMAT)
    throw damaged(`format ${JSON.stringify(doc.format)}, expected ${SAVED_PLAN_FORMAT}`);
  const { digest, ...rest } = doc;
  if (typeof digest !== "string" || sha256(canonical(rest)) !== digest)
    throw damaged("its digest does not match its content: edited or truncated");
  for (const t of doc.terraform ?? [])
    if (sha256(Buffer.from(t.file, "base64")) !== t.sha256)
      throw damaged(`the terraform plan of ${t.name} does not match its sha256`);
  return doc as SavedPlan;
}

/** The plan file's bytes, sha256 and base64 form. */
export function encodePlanFile(path: string): { file: string; sha256: string } {
  const bytes = readFileSync(path);
  return { file: bytes.toString("base64"), sha256: sha256(bytes) };
}
