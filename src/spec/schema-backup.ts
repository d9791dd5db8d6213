// Placeholder: a stateful service's backup schema (owned by the backup work, issue 7).
import { z } from "zod";
export const backupSchema = z.record(z.string(), z.unknown());
