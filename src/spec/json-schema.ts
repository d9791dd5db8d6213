/** The JSON Schema of slipway.yaml, generated from the same zod schema (editor completion). */
import { z } from "zod";
import { specSchema } from "./schema.js";

export function jsonSchema(): unknown {
  return {
    $id: "https://slipway.dev/schema/slipway.json",
    title: "slipway.yaml",
    ...z.toJSONSchema(specSchema, { io: "input", unrepresentable: "any", target: "draft-7" }),
  };
}
