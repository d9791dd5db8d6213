// Placeholder: the pre-flight checks schema (owned by the checks work, issue 5).
import { z } from "zod";
export const checkSchema = z.record(z.string(), z.unknown());
