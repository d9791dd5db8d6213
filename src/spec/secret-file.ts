/** `secrets.fromFile`: a value that is a whole file (Compose's file-based secrets). */
import { readFileSync } from "node:fs";

/** The file's content without its trailing newlines (an editor adds one); undefined if unreadable. */
export function readSecretFile(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").replace(/(\r?\n)+$/, "");
  } catch {
    return undefined;
  }
}
