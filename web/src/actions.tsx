/**
 * Actions by role (op-roles.ts): operator rolls back, restarts and takes backups; deployer also
 * scales and runs runbooks. A control the role lacks is not drawn (the daemon refuses it anyway).
 * On a protected environment every action waits for the environment's name to be typed; for a
 * rollback the daemon checks it again (`confirmName`).
 */
import { useState } from "preact/hooks";
import { atLeast, op, type EnvSummary } from "./api";
import type { ServiceStatus } from "./envs";

export interface RevisionChoice {
  number: number;
  version: string;
  status: string;
}

type Result = {
  revision?: number;
  version?: string;
  status?: string;
  reason?: string;
  ok?: boolean;
  runbook?: string;
  service?: string;
  from?: number;
  to?: number;
};

function describe(name: string, r: Result | undefined): string {
  if (name === "runbook" && r?.runbook) return `runbook ${r.runbook} ${r.status}`;
  if (name === "scale" && r?.service) return `scale done: ${r.service} from ${r.from} to ${r.to} instances`;
  const what = r?.revision !== undefined ? `: revision ${r.revision} (${r.version}, ${r.status})` : "";
  const ok = r?.ok === false ? " (not ok)" : "";
  return `${name} done${what}${ok}${r?.reason ? ` — ${r.reason}` : ""}`;
}

const value = (e: Event) => (e.target as HTMLInputElement | HTMLSelectElement).value;

export function Actions(props: {
  env: EnvSummary;
  role: string;
  revisions: RevisionChoice[];
  services: ServiceStatus[];
  runbooks: string[];
  onRun: () => void;
}) {
  const { env, role, services, runbooks, onRun } = props;
  const choices = props.revisions.filter(
    (r) => r.number !== env.revision?.number && ["deployed", "superseded"].includes(r.status),
  );
  const [target, setTarget] = useState("");
  const [typed, setTyped] = useState("");
  const [msg, setMsg] = useState("");
  const [busy, setBusy] = useState(false);
  const [restartOf, setRestartOf] = useState("");
  const [scaleOf, setScaleOf] = useState("");
  const [replicas, setReplicas] = useState("");
  const [runbook, setRunbook] = useState("");
  const confirmed = !env.protect || typed === env.env;
  const locked = busy || !confirmed;
  const run = async (name: string, args: Record<string, unknown>) => {
    setBusy(true);
    setMsg(`${name} running…`);
    try {
      setMsg(describe(name, await op<Result>(name, env, args)));
    } catch (e) {
      setMsg(`${name} failed: ${(e as Error).message}`);
    } finally {
      setBusy(false);
      onRun();
    }
  };
  const submit = (name: string, args: () => Record<string, unknown>) => (e: Event) => {
    e.preventDefault();
    void run(name, { ...args(), ...(env.protect ? { confirmName: typed } : {}) });
  };
  const sel = target || String(choices[0]?.number ?? "");
  const scaleSvc = scaleOf || services[0]?.name || "";
  const book = runbook || runbooks[0] || "";
  const deployer = atLeast(role, "deployer");
  return (
    <section aria-label="Actions" class="actions">
      <h3>Actions</h3>
      {env.protect && (
        <div class="confirm">
          <label for="act-confirm">Type “{env.env}” to confirm (protected environment)</label>
          <input id="act-confirm" value={typed} onInput={(e) => setTyped(value(e))} autocomplete="off" />
        </div>
      )}
      <form onSubmit={submit("rollback", () => ({ revision: Number(sel) }))} aria-label="Roll back">
        <label for="rb-rev">Roll back to revision</label>
        <select id="rb-rev" value={sel} onChange={(e) => setTarget(value(e))}>
          {choices.map((h) => (
            <option key={h.number} value={h.number}>
              {h.number} · {h.version} ({h.status})
            </option>
          ))}
        </select>
        <button type="submit" disabled={locked || !choices.length}>
          Roll back
        </button>
      </form>
      <form
        onSubmit={submit("restart", () => (restartOf ? { service: restartOf } : {}))}
        aria-label="Restart"
      >
        <label for="rs-svc">Restart service</label>
        <select id="rs-svc" value={restartOf} onChange={(e) => setRestartOf(value(e))}>
          <option value="">all services</option>
          {services.map((s) => (
            <option key={s.name}>{s.name}</option>
          ))}
        </select>
        <button type="submit" disabled={locked}>
          Restart
        </button>
      </form>
      {deployer && (
        <form
          onSubmit={submit("scale", () => ({ service: scaleSvc, replicas: Number(replicas) }))}
          aria-label="Scale"
        >
          <label for="sc-svc">Scale service</label>
          <select id="sc-svc" value={scaleSvc} onChange={(e) => setScaleOf(value(e))}>
            {services.map((s) => (
              <option key={s.name}>{s.name}</option>
            ))}
          </select>
          <label for="sc-n">Instances</label>
          <input
            id="sc-n"
            type="number"
            min={0}
            max={1000}
            required
            value={replicas}
            onInput={(e) => setReplicas(value(e))}
          />
          <button type="submit" disabled={locked || replicas === ""}>
            Scale
          </button>
        </form>
      )}
      {deployer && runbooks.length > 0 && (
        <form onSubmit={submit("runbook", () => ({ name: book }))} aria-label="Runbook">
          <label for="rbk">Run a runbook</label>
          <select id="rbk" value={book} onChange={(e) => setRunbook(value(e))}>
            {runbooks.map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
          <button type="submit" disabled={locked}>
            Run runbook
          </button>
        </form>
      )}
      {msg && <p role="status">{msg}</p>}
    </section>
  );
}
