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
import { Actions } from "./actions";
import { AlertsPage } from "./alerts";
import { BackupsPage } from "./backups";
import { AnalysisRuns, MeasurementCharts, type AnalysisEvidence, type Measurement } from "./chart";
import { SpecDiff } from "./diff";
import { Services, type EnvStatus } from "./envs";
import { LogsPage } from "./logs";

interface Revision {
  number: number;
  version: string;
  status: string;
  actor: string;
  createdAt: string;
  rollbackOf?: number;
  reason?: string;
  snapshot?: { runbooks?: Record<string, unknown>; services?: Record<string, { backup?: unknown }> };
  facts?: { analysis?: AnalysisEvidence[] };
}
interface HistoryEntry {
  revision: Revision;
  /** Revision-less events (scales) made while this revision was the newest, newest first. */
  events?: { kind: string; time: string; actor?: string; message: string }[];
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
  const [measured, setMeasured] = useState<Measurement[]>([]);
  useEffect(() => {
    const q = new URLSearchParams({ project, env });
    const es = new EventSource(`/v1/events?${q}`);
    es.addEventListener("ready", () => setConnected(true));
    es.addEventListener("engine", (m) => {
      const { event } = JSON.parse((m as MessageEvent<string>).data) as { event: EngineEvent };
      if (event.type === "step") {
        const s = event as Step;
        setSteps((old) => {
          const restart = s.seq <= 1 && old.every((o) => o.status !== "running");
          if (restart) setMeasured([]);
          const fresh = restart ? [] : old;
          const i = fresh.findIndex((o) => o.seq === s.seq);
          return i < 0 ? [...fresh, s].sort((a, b) => a.seq - b.seq) : fresh.map((o, j) => (j === i ? s : o));
        });
        if (s.status !== "running") onDone();
      } else if (event.type === "measurements") {
        const round = (event.measurements ?? []) as Measurement[];
        setMeasured((old) => [...old, ...round].slice(-400));
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
      {measured.length > 0 && <MeasurementCharts measurements={measured} />}
      {lines.length > 0 && <pre class="lines">{lines.join("\n")}</pre>}
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
      <table class="history">
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
          {history.flatMap(({ revision: r, events }) => [
            ...(events ?? []).map((e) => (
              <tr key={`${e.kind}-${e.time}`} class="muted">
                <td>·</td>
                <td colSpan={2}>{e.message}</td>
                <td>{e.actor}</td>
                <td>{new Date(e.time).toLocaleString()}</td>
              </tr>
            )),
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
            </tr>,
          ])}
        </tbody>
      </table>
      {open && (
        <div class="steps-of">
          <h4>
            Steps of revision {open.revision.number}
            {open.revision.reason ? ` — ${open.revision.reason}` : ""}
          </h4>
          <Steps steps={open.steps ?? []} />
          {open.revision.facts?.analysis?.length ? (
            <AnalysisRuns runs={open.revision.facts.analysis} />
          ) : null}
        </div>
      )}
    </section>
  );
}

export type Page = "overview" | "alerts" | "backups" | "logs";
const PAGES: [Page, string][] = [
  ["overview", "Overview"],
  ["alerts", "Alerts"],
  ["backups", "Backups"],
  ["logs", "Logs"],
];

function PageNav({ project, env, page }: { project: string; env: string; page: Page }) {
  const base = `#/env/${encodeURIComponent(project)}/${encodeURIComponent(env)}`;
  return (
    <nav aria-label="Environment pages" class="tabs">
      {PAGES.map(([p, label]) => (
        <a
          key={p}
          href={p === "overview" ? base : `${base}/${p}`}
          aria-current={p === page ? "page" : undefined}
        >
          {label}
        </a>
      ))}
    </nav>
  );
}

export function EnvDetail(props: { me: Me; project: string; env: string; page: Page }) {
  const { me, project, env: name, page } = props;
  const [env, setEnv] = useState<EnvSummary | undefined>();
  const [status, setStatus] = useState<EnvStatus | undefined>();
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [current, setCurrent] = useState<Revision | undefined>();
  const [error, setError] = useState("");
  const [tick, setTick] = useState(0);
  useEffect(() => {
    (async () => {
      const e = (await environments()).environments.find((x) => x.project === project && x.env === name);
      if (!e) throw new Error(`no environment ${project}/${name} you may view`);
      setEnv(e);
      const [s, h, c] = await Promise.all([
        op<EnvStatus>("status", e),
        op<HistoryEntry[]>("history", e, { limit: 20 }),
        e.revision ? op<HistoryEntry[]>("history", e, { revision: e.revision.number }) : Promise.resolve([]),
      ]);
      setStatus(s);
      setHistory(h);
      setCurrent(c[0]?.revision);
    })().catch((e: Error) => setError(e.message));
  }, [project, name, tick]);
  const role = roleIn(me, project, name);
  // Steps arrive in bursts: re-read status and history once a burst is over.
  const settle = useRef<ReturnType<typeof setTimeout>>();
  const refresh = () => {
    clearTimeout(settle.current);
    settle.current = setTimeout(() => setTick((t) => t + 1), 400);
  };
  const revisions = history.map((h) => h.revision);
  const services = status?.services ?? [];
  const snap = current?.snapshot;
  return (
    <>
      <h2>
        {project} / {name} {env?.protect && <span class="badge warn">protected</span>}
      </h2>
      <PageNav project={project} env={name} page={page} />
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
      {env && page === "alerts" && <AlertsPage env={env} role={role} />}
      {env && page === "backups" && (
        <BackupsPage
          env={env}
          role={role}
          services={Object.entries(snap?.services ?? {})
            .filter(([, s]) => s.backup)
            .map(([n]) => n)}
        />
      )}
      {env && page === "logs" && <LogsPage env={env} services={services} revisions={revisions} />}
      {page === "overview" && (
        <>
          <div class="grid">
            <section aria-label="Services">
              <h3>Services</h3>
              {status ? <Services services={status.services} /> : <p>…</p>}
            </section>
            <Live project={project} env={name} onDone={refresh} />
          </div>
          {env && atLeast(role, "operator") && (
            <Actions
              env={env}
              role={role}
              revisions={revisions}
              services={services}
              runbooks={Object.keys(snap?.runbooks ?? {})}
              onRun={() => setTick((t) => t + 1)}
            />
          )}
          {env && <History env={env} history={history} />}
          {env && <SpecDiff env={env} revisions={revisions} />}
        </>
      )}
    </>
  );
}
