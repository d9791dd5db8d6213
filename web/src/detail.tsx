/** One environment: services, the live panel (SSE), history with steps, actions by role. */
import { useEffect, useRef, useState } from "preact/hooks";
import {
  atLeast,
  environments,
  op,
  roleIn,
  type EngineEvent,
  type EnvSummary,
  type Me,
  type Step,
} from "./api";
import { Services, type EnvStatus } from "./envs";

interface Revision {
  number: number;
  version: string;
  status: string;
  actor: string;
  createdAt: string;
  rollbackOf?: number;
  reason?: string;
}
interface HistoryEntry {
  /** Absent on a revision-less event (a scale). */
  revision?: Revision;
  event?: { kind: string; time: string; actor?: string; message: string };
  steps?: {
    seq: number;
    kind: string;
    service?: string;
    description: string;
    status: string;
    durationMs?: number;
  }[];
}

const ms = (d?: number) => (d === undefined ? "" : d < 1000 ? `${d} ms` : `${(d / 1000).toFixed(1)} s`);

function Steps({ steps }: { steps: Omit<Step, "type">[] }) {
  return (
    <ol class="steps">
      {steps.map((s) => (
        <li key={s.seq} class={`step ${s.status}`}>
          <span class="status">{s.status}</span> {s.description}
          {s.durationMs !== undefined && <span class="muted"> · {ms(s.durationMs)}</span>}
          {s.message && <div class="muted">{s.message}</div>}
        </li>
      ))}
    </ol>
  );
}

/** Steps of the deploy or rollback in progress, from GET /v1/events (server-sent events). */
function Live({ project, env, onDone }: { project: string; env: string; onDone: () => void }) {
  const [steps, setSteps] = useState<Step[]>([]);
  const [lines, setLines] = useState<string[]>([]);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const q = new URLSearchParams({ project, env });
    const es = new EventSource(`/v1/events?${q}`);
    es.addEventListener("ready", () => setConnected(true));
    es.addEventListener("engine", (m) => {
      const { event } = JSON.parse((m as MessageEvent<string>).data) as { event: EngineEvent };
      if (event.type === "step") {
        const s = event as Step;
        setSteps((old) => {
          const fresh = s.seq <= 1 && old.every((o) => o.status !== "running") ? [] : old;
          const i = fresh.findIndex((o) => o.seq === s.seq);
          return i < 0 ? [...fresh, s].sort((a, b) => a.seq - b.seq) : fresh.map((o, j) => (j === i ? s : o));
        });
        if (s.status !== "running") onDone();
      } else if (typeof event.message === "string") {
        setLines((old) => [...old.slice(-19), String(event.message)]);
      }
    });
    es.onerror = () => setConnected(false);
    return () => es.close();
  }, [project, env]);
  return (
    <section aria-label="Live" aria-live="polite" class="live">
      <h3>
        Live{" "}
        <span
          class={`dot ${connected ? "running" : "stopped"}`}
          aria-label={connected ? "connected" : "disconnected"}
        />
      </h3>
      {steps.length ? (
        <Steps steps={steps} />
      ) : (
        <p class="muted">Nothing running. Steps of a deploy or rollback appear here as they happen.</p>
      )}
      {lines.length > 0 && <pre class="lines">{lines.join("\n")}</pre>}
    </section>
  );
}

function Actions({ env, history, onRun }: { env: EnvSummary; history: HistoryEntry[]; onRun: () => void }) {
  const current = env.revision?.number;
  const choices = history.flatMap((h) =>
    h.revision && h.revision.number !== current && ["deployed", "superseded"].includes(h.revision.status)
      ? [{ revision: h.revision }]
      : [],
  );
  const [target, setTarget] = useState("");
  const [typed, setTyped] = useState("");
  const [msg, setMsg] = useState("");
  const [busy, setBusy] = useState(false);
  const run = async (name: string, args: Record<string, unknown>) => {
    setBusy(true);
    setMsg(`${name} running…`);
    try {
      const r = await op<{ revision?: number; version?: string; status?: string; reason?: string }>(
        name,
        env,
        args,
      );
      const what = r?.revision !== undefined ? `: revision ${r.revision} (${r.version}, ${r.status})` : "";
      setMsg(`${name} done${what}${r?.reason ? ` — ${r.reason}` : ""}`);
    } catch (e) {
      setMsg(`${name} failed: ${(e as Error).message}`);
    } finally {
      setBusy(false);
      onRun();
    }
  };
  const rollback = (e: Event) => {
    e.preventDefault();
    const args: Record<string, unknown> = { revision: Number(target) };
    if (env.protect) args.confirmName = typed;
    void run("rollback", args);
  };
  const sel = target || String(choices[0]?.revision.number ?? "");
  return (
    <section aria-label="Actions" class="actions">
      <h3>Actions</h3>
      <form
        onSubmit={(e) => {
          setTarget(sel);
          rollback(e);
        }}
        aria-label="Roll back"
      >
        <label for="rb-rev">Roll back to revision</label>
        <select id="rb-rev" value={sel} onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}>
          {choices.map((h) => (
            <option key={h.revision.number} value={h.revision.number}>
              {h.revision.number} · {h.revision.version} ({h.revision.status})
            </option>
          ))}
        </select>
        {env.protect && (
          <>
            <label for="rb-confirm">Type “{env.env}” to confirm (protected environment)</label>
            <input
              id="rb-confirm"
              value={typed}
              onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
              autocomplete="off"
            />
          </>
        )}
        <button type="submit" disabled={busy || !choices.length || (env.protect && typed !== env.env)}>
          Roll back
        </button>
      </form>
      <button type="button" disabled={busy} onClick={() => void run("restart", {})}>
        Restart all services
      </button>
      {msg && <p role="status">{msg}</p>}
    </section>
  );
}

function History({ env, history }: { env: EnvSummary; history: HistoryEntry[] }) {
  const [open, setOpen] = useState<HistoryEntry | undefined>();
  const show = async (n: number) => {
    const [h] = await op<HistoryEntry[]>("history", env, { revision: n });
    setOpen(h);
  };
  return (
    <section aria-label="History">
      <h3>History</h3>
      <table>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">version</th>
            <th scope="col">status</th>
            <th scope="col">by</th>
            <th scope="col">when</th>
          </tr>
        </thead>
        <tbody>
          {history.map(({ revision: r, event: e }) =>
            !r ? (
              <tr key={`${e?.kind}-${e?.time}`} class="muted">
                <td>·</td>
                <td colSpan={2}>{e?.message}</td>
                <td>{e?.actor}</td>
                <td>{e ? new Date(e.time).toLocaleString() : ""}</td>
              </tr>
            ) : (
              <tr key={r.number}>
                <td>
                  <button
                    type="button"
                    class="link"
                    onClick={() => void show(r.number)}
                    aria-label={`steps of revision ${r.number}`}
                  >
                    {r.number}
                  </button>
                </td>
                <td>
                  {r.version}
                  {r.rollbackOf ? ` (rollback of ${r.rollbackOf})` : ""}
                </td>
                <td>{r.status}</td>
                <td>{r.actor}</td>
                <td>{new Date(r.createdAt).toLocaleString()}</td>
              </tr>
            ),
          )}
        </tbody>
      </table>
      {open && (
        <div class="steps-of">
          <h4>
            Steps of revision {open.revision?.number}
            {open.revision?.reason ? ` — ${open.revision.reason}` : ""}
          </h4>
          <Steps steps={open.steps ?? []} />
        </div>
      )}
    </section>
  );
}

export function EnvDetail({ me, project, env: name }: { me: Me; project: string; env: string }) {
  const [env, setEnv] = useState<EnvSummary | undefined>();
  const [status, setStatus] = useState<EnvStatus | undefined>();
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [error, setError] = useState("");
  const [tick, setTick] = useState(0);
  useEffect(() => {
    (async () => {
      const e = (await environments()).environments.find((x) => x.project === project && x.env === name);
      if (!e) throw new Error(`no environment ${project}/${name} you may view`);
      setEnv(e);
      const [s, h] = await Promise.all([
        op<EnvStatus>("status", e),
        op<HistoryEntry[]>("history", e, { limit: 20 }),
      ]);
      setStatus(s);
      setHistory(h);
    })().catch((e: Error) => setError(e.message));
  }, [project, name, tick]);
  const role = roleIn(me, project, name);
  // Steps arrive in bursts: re-read status and history once a burst is over.
  const settle = useRef<ReturnType<typeof setTimeout>>();
  const refresh = () => {
    clearTimeout(settle.current);
    settle.current = setTimeout(() => setTick((t) => t + 1), 400);
  };
  return (
    <>
      <h2>
        {project} / {name} {env?.protect && <span class="badge warn">protected</span>}
      </h2>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {env?.revision && (
        <p>
          revision {env.revision.number} <strong>{env.revision.version}</strong> ({env.revision.status}) ·
          your role here: {role}
        </p>
      )}
      {env?.lock && (
        <p class="warn">
          locked by {env.lock.holder} ({env.lock.operation})
        </p>
      )}
      <div class="grid">
        <section aria-label="Services">
          <h3>Services</h3>
          {status ? <Services services={status.services} /> : <p>…</p>}
        </section>
        <Live project={project} env={name} onDone={refresh} />
      </div>
      {env && atLeast(role, "operator") && (
        <Actions env={env} history={history} onRun={() => setTick((t) => t + 1)} />
      )}
      {env && <History env={env} history={history} />}
    </>
  );
}
