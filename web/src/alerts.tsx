/**
 * Alerts and silences of one environment: the standing rules and their state (`rules`), the
 * silences (`silence list|add|expire`, operator and above change them) and the recent alert
 * deliveries (`alerts list`).
 */
import { useEffect, useState } from "preact/hooks";
import { atLeast, op, type EnvSummary } from "./api";
import { formatValue } from "./chart";

export interface RuleStatus {
  name: string;
  service?: string;
  severity: string;
  query: string;
  max?: number;
  min?: number;
  state: "inactive" | "pending" | "firing";
  value?: number;
  reason: string;
  since: string;
}
interface Silence {
  id: string;
  matchers: Record<string, string[]>;
  startsAt: string;
  endsAt: string;
  author: string;
  comment: string;
  state: string;
}
interface Delivery {
  id: number;
  time: string;
  receiver: string;
  status: string;
  title: string;
}

/** Firing and pending rules: the open alerts of an environment (also on the environment cards). */
export const openAlerts = (rules: RuleStatus[]) => rules.filter((r) => r.state !== "inactive");

export function OpenAlerts({ rules }: { rules: RuleStatus[] }) {
  const open = openAlerts(rules);
  if (!open.length) return <p class="muted">No open alerts.</p>;
  return (
    <ul class="alerts" aria-label="Open alerts">
      {open.map((r) => (
        <li key={r.name} class={`alert ${r.state}`}>
          <strong>{r.name}</strong> {r.state} ({r.severity}) · {formatValue(r.query, r.value)}
          <span class="muted"> · {r.reason}</span>
        </li>
      ))}
    </ul>
  );
}

const when = (iso: string) => new Date(iso).toLocaleString();
const matcherText = (m: Record<string, string[]>) =>
  Object.entries(m)
    .map(([k, v]) => `${k}=${v.join("|")}`)
    .join(", ");

function SilenceForm({ env, rules, onDone }: { env: EnvSummary; rules: RuleStatus[]; onDone: () => void }) {
  const [msg, setMsg] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    try {
      const s = await op<Silence>("silence", env, {
        action: "add",
        matchers: { rule: String(f.get("rule")) },
        duration: String(f.get("duration")),
        comment: String(f.get("comment")),
        author: "",
      });
      setMsg(`silenced ${matcherText(s.matchers)} until ${when(s.endsAt)}`);
      onDone();
    } catch (err) {
      setMsg(`silence failed: ${(err as Error).message}`);
    }
  };
  const names = [...openAlerts(rules), ...rules.filter((r) => r.state === "inactive")].map((r) => r.name);
  return (
    <form onSubmit={submit} aria-label="Silence an alert">
      <label for="sil-rule">Alert rule</label>
      <select id="sil-rule" name="rule">
        {names.map((n) => (
          <option key={n}>{n}</option>
        ))}
      </select>
      <label for="sil-duration">Duration (e.g. 30m, 2h)</label>
      <input
        id="sil-duration"
        name="duration"
        defaultValue="1h"
        required
        pattern="\d+(\.\d+)?(ms|s|m|h|d|w)"
      />
      <label for="sil-comment">Reason</label>
      <input id="sil-comment" name="comment" required placeholder="known issue, fix in progress" />
      <button type="submit" disabled={!names.length}>
        Silence
      </button>
      {msg && <p role="status">{msg}</p>}
    </form>
  );
}

export function AlertsPage({ env, role }: { env: EnvSummary; role: string }) {
  const [rules, setRules] = useState<RuleStatus[]>([]);
  const [silences, setSilences] = useState<Silence[]>([]);
  const [deliveries, setDeliveries] = useState<Delivery[]>([]);
  const [error, setError] = useState("");
  const [tick, setTick] = useState(0);
  useEffect(() => {
    Promise.all([
      op<{ rules: RuleStatus[] }>("rules", env).then((r) => setRules(r.rules)),
      op<{ silences: Silence[] }>("silence", env, { action: "list" }).then((r) => setSilences(r.silences)),
      op<{ deliveries: Delivery[] }>("alerts", env, { action: "list", limit: 20 }).then((r) =>
        setDeliveries(r.deliveries),
      ),
    ]).catch((e: Error) => setError(e.message));
  }, [env.project, env.env, tick]);
  const operator = atLeast(role, "operator");
  const expire = async (id: string) => {
    try {
      await op("silence", env, { action: "expire", id });
    } catch (e) {
      setError((e as Error).message);
    }
    setTick((t) => t + 1);
  };
  return (
    <>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <section aria-label="Alert rules">
        <h3>Alert rules</h3>
        <table>
          <thead>
            <tr>
              <th scope="col">rule</th>
              <th scope="col">state</th>
              <th scope="col">value</th>
              <th scope="col">severity</th>
              <th scope="col">since</th>
            </tr>
          </thead>
          <tbody>
            {rules.map((r) => (
              <tr key={r.name} class={`alert ${r.state}`}>
                <th scope="row">
                  {r.name}
                  {r.service ? <span class="muted"> ({r.service})</span> : null}
                </th>
                <td>{r.state}</td>
                <td title={r.reason}>{formatValue(r.query, r.value)}</td>
                <td>{r.severity}</td>
                <td>{when(r.since)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {!rules.length && <p class="muted">This environment has no alert rules (rules: in slipway.yaml).</p>}
      </section>
      {operator && (
        <section aria-label="New silence">
          <h3>Silence an alert</h3>
          <SilenceForm env={env} rules={rules} onDone={() => setTick((t) => t + 1)} />
        </section>
      )}
      <section aria-label="Silences">
        <h3>Silences</h3>
        {silences.length ? (
          <ul class="silences">
            {silences.map((s) => (
              <li key={s.id}>
                <strong>{matcherText(s.matchers)}</strong> {s.state} until {when(s.endsAt)} · {s.author}:{" "}
                {s.comment}{" "}
                {operator && s.state !== "expired" && (
                  <button
                    type="button"
                    class="small"
                    onClick={() => void expire(s.id)}
                    aria-label={`Remove silence ${matcherText(s.matchers)}`}
                  >
                    Remove
                  </button>
                )}
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No silences.</p>
        )}
      </section>
      <section aria-label="Alert deliveries">
        <h3>Recent alert deliveries</h3>
        {deliveries.length ? (
          <ul class="deliveries">
            {deliveries.map((d) => (
              <li key={d.id}>
                {when(d.time)} · {d.title} → {d.receiver} <span class="muted">({d.status})</span>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No alert sent yet.</p>
        )}
      </section>
    </>
  );
}
