/**
 * The spec's rarely used tools (core.ts loadSpecExtras): the JSON Schema (`schema`, `docs`) and
 * the Compose import (`init --from-compose`). Apart from spec-tools.ts because they cost every
 * deploy and rollback about ten modules at start (bench/RESULTS.md, 2026-12-06, third stop).
 */
export { importCompose } from "./compose/import.js";
export { jsonSchema } from "./spec/json-schema.js";
