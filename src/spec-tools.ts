/** The spec's tools as one public module, loaded on demand by the CLI (core.ts loadSpecTools). */
export { importCompose } from "./compose/import.js";
export { jsonSchema } from "./spec/json-schema.js";
export { loadSpecFile } from "./spec/load.js";
export { resolveSpec, validateAll } from "./spec/resolve.js";
