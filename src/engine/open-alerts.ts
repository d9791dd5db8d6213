/**
 * Which alerts a periodic job has raised and not yet resolved, for one environment, kept in a
 * small file so that a daemon restart neither repeats an open alert nor forgets to resolve it.
 * Jobs of other environments may save meanwhile: save() re-reads the file and replaces only this
 * environment's part (the fs calls are synchronous, so nothing interleaves in one process).
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";

type Entry = [project: string, env: string, key: string, value: string];

export class OpenAlerts {
  private readonly open = new Map<string, string>();

  constructor(
    private readonly file: string,
    private readonly project: string,
    private readonly env: string,
  ) {
    for (const [, , k, v] of this.read().filter((e) => this.mine(e))) this.open.set(k, v);
  }

  has(key: string): boolean {
    return this.open.has(key);
  }

  /** The value stored with an open alert (e.g. its severity, to notice an escalation). */
  get(key: string): string | undefined {
    return this.open.get(key);
  }

  set(key: string, value: string): void {
    this.open.set(key, value);
  }

  delete(key: string): void {
    this.open.delete(key);
  }

  keys(): string[] {
    return [...this.open.keys()];
  }

  save(): void {
    const all = this.read();
    const next: Entry[] = [
      ...all.filter((e) => !this.mine(e)),
      ...[...this.open].map(([k, v]): Entry => [this.project, this.env, k, v]),
    ];
    if (JSON.stringify(next) === JSON.stringify(all)) return;
    writeFileSync(`${this.file}.tmp`, JSON.stringify(next), { mode: 0o600 });
    renameSync(`${this.file}.tmp`, this.file);
  }

  private mine(e: Entry): boolean {
    return e[0] === this.project && e[1] === this.env;
  }

  private read(): Entry[] {
    try {
      const v = JSON.parse(readFileSync(this.file, "utf8")) as unknown;
      return Array.isArray(v) ? (v as Entry[]).filter((e) => Array.isArray(e) && e.length === 4) : [];
    } catch {
      return []; // none yet
    }
  }
}
