/** One environment on the list: revision, each service's health and URL, the lock. */
import { useEffect, useState } from "preact/hooks";
import { op, roleIn, type EnvSummary, type Me } from "./api";
import { OpenAlerts, type RuleStatus } from "./alerts";

export interface ServiceStatus {
  name: string;
  status: string;
  url?: string;
  instances: { id: string; state: string; version: string; health?: { ok: boolean; message: string } }[];
}
export interface EnvStatus {
  services: ServiceStatus[];
  lock?: { holder: string; operation: string };
}

export function Services({ services }: { services: ServiceStatus[] }) {
  return (
    <ul class="services">
      {services.map((s) => (
        <li key={s.name}>
          <span class={`dot ${s.status}`} aria-hidden="true" />
          <strong>{s.name}</strong> <span class="muted">{s.status}</span>
          {s.instances.map((i) => (
            <span key={i.id} class="muted" title={i.health?.message}>
              {" "}
              · {i.version} {i.health ? (i.health.ok ? "healthy" : "unhealthy") : i.state}
            </span>
          ))}
          {s.url && (
            <>
              {" "}
              <a href={s.url}>{s.url}</a>
            </>
          )}
        </li>
      ))}
    </ul>
  );
}

export function EnvCard({ env, me }: { env: EnvSummary; me: Me }) {
  const [status, setStatus] = useState<EnvStatus | undefined>();
  const [error, setError] = useState("");
  const [rules, setRules] = useState<RuleStatus[] | undefined>();
  useEffect(() => {
    op<EnvStatus>("status", env)
      .then(setStatus)
      .catch((e: Error) => setError(e.message));
    op<{ rules: RuleStatus[] }>("rules", env)
      .then((r) => setRules(r.rules))
      .catch(() => setRules([]));
  }, [env.project, env.env]);
  const base = `#/env/${encodeURIComponent(env.project)}/${encodeURIComponent(env.env)}`;
  const r = env.revision;
  return (
    <li class="card">
      <h3>
        <a href={base}>
          {env.project} / {env.env}
        </a>
        {env.protect && <span class="badge warn">protected</span>}
      </h3>
      <p>
        {r ? (
          <>
            revision {r.number} <strong>{r.version}</strong> ({r.status}) by {r.actor}
          </>
        ) : (
          "no revision"
        )}
        <span class="muted"> · you: {roleIn(me, env.project, env.env)}</span>
      </p>
      {env.lock && (
        <p class="warn">
          locked by {env.lock.holder} ({env.lock.operation})
        </p>
      )}
      {status ? <Services services={status.services} /> : error ? <p class="error">{error}</p> : <p>…</p>}
      {rules && rules.length > 0 && (
        <div class="card-alerts">
          <a href={`${base}/alerts`} aria-label={`Alerts of ${env.project}/${env.env}`}>
            Alerts
          </a>
          <OpenAlerts rules={rules} />
        </div>
      )}
    </li>
  );
}
