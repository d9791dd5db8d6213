/**
 * Silences kept in memory, for a Notifier used on its own (a benchmark, a child process in a
 * test) without a store. The hub always hands its notifiers the store's silences.
 */
import type { SilenceRecord } from "../store/records.js";
import type { SilenceStore } from "./silences.js";

export class MemorySilences implements SilenceStore {
  private readonly rows = new Map<string, SilenceRecord>();

  async addSilence(s: SilenceRecord): Promise<void> {
    this.rows.set(s.id, { ...s });
  }

  async getSilence(project: string, env: string, id: string): Promise<SilenceRecord | undefined> {
    const s = this.rows.get(id);
    return s && s.project === project && s.env === env ? { ...s } : undefined;
  }

  async listSilences(
    project: string,
    env: string,
    opts: { endsAfter?: string } = {},
  ): Promise<SilenceRecord[]> {
    const after = opts.endsAfter === undefined ? -Infinity : Date.parse(opts.endsAfter);
    return [...this.rows.values()]
      .filter((s) => s.project === project && s.env === env && Date.parse(s.endsAt) > after)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id))
      .map((s) => ({ ...s }));
  }

  async setSilenceEnd(project: string, env: string, id: string, endsAt: string): Promise<boolean> {
    const s = this.rows.get(id);
    if (!s || s.project !== project || s.env !== env) return false;
    s.endsAt = endsAt;
    return true;
  }

  async pruneSilences(before: string): Promise<number> {
    let n = 0;
    for (const [id, s] of this.rows)
      if (Date.parse(s.endsAt) < Date.parse(before)) n += this.rows.delete(id) ? 1 : 0;
    return n;
  }
}
