// Placeholder: the analysis schema (owned by the analysis work, issue 5).
import { z } from "zod";
export const analysisSchema = z.record(z.string(), z.unknown());
