/**
 * Backups of one environment with their verification state (`backups`); operator and above
 * take one (`backup`) and verify one (`backup-verify`: restored into a scratch place, compared).
 */
import { useEffect, useState } from "preact/hooks";
import { atLeast, op, type EnvSummary } from "./api";

interface Backup {
  id: string;
  service: string;
  type: string;
  status: "running" | "ok" | "failed" | "verified" | "corrupt";
  startedAt: string;
  size?: number;
  error?: string;
  verifiedAt?: string;
  verifyDetail?: string;
}

const size = (b?: number) =>
  b === undefined
    ? ""
    : b < 1024
      ? `${b} B`
      : b < 1048576
        ? `${(b / 1024).toFixed(1)} KiB`
        : `${(b / 1048576).toFixed(1)} MiB`;

/** What the status means for someone who must restore at 2 a.m. */
function verification(b: Backup): string {
  if (b.status === "verified") return `verified ${new Date(b.verifiedAt ?? b.startedAt).toLocaleString()}`;
  if (b.status === "corrupt") return `CORRUPT: ${b.verifyDetail ?? b.error ?? ""}`;
  if (b.status === "failed") return `failed: ${b.error ?? ""}`;
  return b.status === "ok" ? "not verified yet" : b.status;
}

export function BackupsPage({ env, role, services }: { env: EnvSummary; role: string; services: string[] }) {
  const [backups, setBackups] = useState<Backup[] | undefined>();
  const [error, setError] = useState("");
  const [msg, setMsg] = useState("");
  const [busy, setBusy] = useState(false);
  const [service, setService] = useState("");
  const [tick, setTick] = useState(0);
  useEffect(() => {
    op<{ backups: Backup[] }>("backups", env)
      .then((r) => setBackups(r.backups))
      .catch((e: Error) => setError(e.message));
  }, [env.project, env.env, tick]);
  const run = async (what: string, name: string, args: Record<string, unknown>) => {
    setBusy(true);
    setMsg(`${what}…`);
    try {
      const r = await op<{ backups?: Backup[]; backup?: Backup }>(name, env, args);
      const done = r.backups ?? (r.backup ? [r.backup] : []);
      setMsg(`${what} done: ${done.map((b) => `${b.id} ${b.status}`).join(", ")}`);
    } catch (e) {
      setMsg(`${what} failed: ${(e as Error).message}`);
    } finally {
      setBusy(false);
      setTick((t) => t + 1);
    }
  };
  const operator = atLeast(role, "operator");
  return (
    <>
      {operator && services.length > 0 && (
        <section aria-label="Take a backup" class="actions">
          <h3>Take a backup</h3>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void run("backup", "backup", service ? { service } : {});
            }}
          >
            <label for="bk-service">Service</label>
            <select
              id="bk-service"
              value={service}
              onChange={(e) => setService((e.target as HTMLSelectElement).value)}
            >
              <option value="">every service with a backup block</option>
              {services.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
            <button type="submit" disabled={busy}>
              Back up now
            </button>
          </form>
        </section>
      )}
      {msg && <p role="status">{msg}</p>}
      <section aria-label="Backups">
        <h3>Backups</h3>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        {backups && !backups.length && <p class="muted">No backup yet.</p>}
        {backups && backups.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">backup</th>
                <th scope="col">service</th>
                <th scope="col">verification</th>
                <th scope="col">size</th>
                <th scope="col">taken</th>
              </tr>
            </thead>
            <tbody>
              {backups.map((b) => (
                <tr key={b.id} class={`backup ${b.status}`}>
                  <th scope="row">
                    <code>{b.id}</code>
                  </th>
                  <td>
                    {b.service} <span class="muted">({b.type})</span>
                  </td>
                  <td>
                    {verification(b)}{" "}
                    {operator && (b.status === "ok" || b.status === "verified") && (
                      <button
                        type="button"
                        class="small"
                        disabled={busy}
                        onClick={() => void run(`verify ${b.id}`, "backup-verify", { id: b.id })}
                        aria-label={`Verify ${b.id}`}
                      >
                        Verify
                      </button>
                    )}
                  </td>
                  <td>{size(b.size)}</td>
                  <td>{new Date(b.startedAt).toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
