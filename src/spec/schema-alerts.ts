// Placeholder: the alerts schema (owned by the notify work, issue 6).
import { z } from "zod";
export const alertsSchema = z.record(z.string(), z.unknown());
