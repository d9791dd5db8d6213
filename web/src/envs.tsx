/** One environment on the list: revision, each service's health and URL, the lock. */
import { useEffect, useState } from "preact/hooks";
import { op, roleIn, type EnvSummary, type Me } from "./api";

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
  useEffect(() => {
    op<EnvStatus>("status", env)
      .then(setStatus)
      .catch((e: Error) => setError(e.message));
  }, [env.project, env.env]);
  const r = env.revision;
  return (
    <li class="card">
      <h3>
        <a href={`#/env/${encodeURIComponent(env.project)}/${encodeURIComponent(env.env)}`}>
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
    </li>
  );
}
