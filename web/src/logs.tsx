/**
 * Logs of one environment (`logs`, streamed as NDJSON lines): the running instances followed live,
 * or the instances of a chosen revision; per service and per instance.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { op, type EnvSummary, type LogLine } from "./api";
import type { ServiceStatus } from "./envs";

const KEEP = 500;

export function LogsPage({
  env,
  services,
  revisions,
}: {
  env: EnvSummary;
  services: ServiceStatus[];
  revisions: { number: number; version: string }[];
}) {
  const [service, setService] = useState("");
  const [instance, setInstance] = useState("");
  const [revision, setRevision] = useState("");
  const [follow, setFollow] = useState(true);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [state, setState] = useState("");
  const [run, setRun] = useState(0);
  const stop = useRef<AbortController>();
  useEffect(() => {
    if (!run) return;
    const ac = new AbortController();
    stop.current = ac;
    setLines([]);
    const live = follow && !revision;
    setState(live ? "following" : "reading");
    const args: Record<string, unknown> = { tail: 200, follow: live };
    if (service) args.service = service;
    if (revision) args.revision = Number(revision);
    op<{ lines: number }>("logs", env, args, {
      signal: ac.signal,
      onLine: (l) => setLines((old) => [...old.slice(1 - KEEP), l]),
    })
      .then((r) => stop.current === ac && setState(`${r.lines} lines`))
      .catch(
        (e: Error) => stop.current === ac && setState(ac.signal.aborted ? "stopped" : `failed: ${e.message}`),
      );
    return () => ac.abort();
  }, [run]);
  const instances = services.filter((s) => !service || s.name === service).flatMap((s) => s.instances);
  const shown = instance ? lines.filter((l) => l.instance === instance) : lines;
  const choose = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLSelectElement).value);
  return (
    <section aria-label="Logs">
      <h3>Logs</h3>
      <form
        class="inline"
        aria-label="Show logs"
        onSubmit={(e) => {
          e.preventDefault();
          setRun((n) => n + 1);
        }}
      >
        <div>
          <label for="log-service">Service</label>
          <select id="log-service" value={service} onChange={choose(setService)}>
            <option value="">all services</option>
            {services.map((s) => (
              <option key={s.name}>{s.name}</option>
            ))}
          </select>
        </div>
        <div>
          <label for="log-instance">Instance</label>
          <select id="log-instance" value={instance} onChange={choose(setInstance)}>
            <option value="">all instances</option>
            {instances.map((i) => (
              <option key={i.id}>{i.id}</option>
            ))}
          </select>
        </div>
        <div>
          <label for="log-revision">Revision</label>
          <select id="log-revision" value={revision} onChange={choose(setRevision)}>
            <option value="">running now</option>
            {revisions.map((r) => (
              <option key={r.number} value={r.number}>
                {r.number} · {r.version}
              </option>
            ))}
          </select>
        </div>
        <div class="check">
          <input
            id="log-follow"
            type="checkbox"
            checked={follow}
            disabled={!!revision}
            onChange={(e) => setFollow((e.target as HTMLInputElement).checked)}
          />
          <label for="log-follow">Follow</label>
        </div>
        <button type="submit">Show logs</button>
        <button
          type="button"
          class="secondary"
          disabled={state !== "following"}
          onClick={() => stop.current?.abort()}
        >
          Stop
        </button>
      </form>
      <p class="muted" role="status">
        {state}
      </p>
      <pre class="log" role="log" aria-label="Log lines" tabIndex={0}>
        {shown.map((l) => `${l.instance} ${l.stream === "stderr" ? "! " : ""}${l.line}`).join("\n")}
      </pre>
    </section>
  );
}
