/**
 * The spec's tools as one public module, loaded on demand by the CLI (core.ts loadSpecTools):
 * what every command that resolves a spec needs. The rarely used ones (JSON Schema, Compose
 * import) are in spec-extras.ts, so a deploy or rollback does not load them at start.
 */
export { loadSpecFile } from "./spec/load.js";
export { resolveSpec, validateAll } from "./spec/resolve.js";
