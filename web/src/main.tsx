/**
 * The Slipway dashboard: log in, see every environment, open one for its history and a live
 * panel of what runs there now, roll back or restart when your role allows. Preact (≈4 kB) and
 * hash routes (#/ and #/env/PROJECT/ENV): nothing to configure on the daemon side.
 */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { whoAmI, login, logout, environments, SESSION_EXPIRED, type Me, type EnvSummary } from "./api";
import { EnvDetail, type Page } from "./detail";
import { EnvCard } from "./envs";
import "./style.css";

function Login({ onIn, notice }: { onIn: (me: Me) => void; notice?: string }) {
  const [error, setError] = useState(notice ?? "");
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    try {
      onIn(await login(String(f.get("name")), String(f.get("password"))));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <main class="login">
      <h1>Slipway</h1>
      <form onSubmit={submit} aria-label="Log in">
        <label for="name">User name</label>
        <input id="name" name="name" autocomplete="username" required autofocus />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <button type="submit">Log in</button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

function EnvList({ me }: { me: Me }) {
  const [envs, setEnvs] = useState<EnvSummary[] | undefined>();
  const [error, setError] = useState("");
  useEffect(() => {
    environments()
      .then((r) => setEnvs(r.environments))
      .catch((e: Error) => setError(e.message));
  }, []);
  if (error)
    return (
      <p role="alert" class="error">
        {error}
      </p>
    );
  if (!envs) return <p aria-busy="true">Loading environments…</p>;
  if (!envs.length) return <p>No environment is deployed yet (slipway deploy ENV).</p>;
  return (
    <section aria-label="Environments" class="plain">
      <h2>Environments</h2>
      <ul class="cards">
        {envs.map((e) => (
          <EnvCard key={`${e.project}/${e.env}`} env={e} me={me} />
        ))}
      </ul>
    </section>
  );
}

function App() {
  const [me, setMe] = useState<Me | null | undefined>();
  const [expired, setExpired] = useState("");
  const hash = useHash();
  useEffect(() => {
    whoAmI()
      .then((m) => setMe(m ?? null))
      .catch(() => setMe(null));
    // Any call answered 401 while signed in: back to the login, saying why (the page stays put).
    const onExpired = (e: Event) => {
      setExpired(`Your session ended (${String((e as CustomEvent).detail || "401")}). Log in again.`);
      setMe(null);
    };
    window.addEventListener(SESSION_EXPIRED, onExpired);
    return () => window.removeEventListener(SESSION_EXPIRED, onExpired);
  }, []);
  if (me === undefined) return <p aria-busy="true">Loading…</p>;
  if (me === null) return <Login onIn={setMe} notice={expired} />;
  const m = /^#\/env\/([^/]+)\/([^/]+)(?:\/(alerts|backups|logs))?$/.exec(hash);
  return (
    <>
      <header class="top">
        <a href="#/" class="brand">
          Slipway
        </a>
        <span class="who">
          {me.actor} <span class="badge">{me.role}</span>
        </span>
        <button type="button" class="link" onClick={() => void logout().finally(() => setMe(null))}>
          Log out
        </button>
      </header>
      <main>
        {m ? (
          <EnvDetail
            me={me}
            project={decodeURIComponent(m[1])}
            env={decodeURIComponent(m[2])}
            page={(m[3] as Page | undefined) ?? "overview"}
          />
        ) : (
          <EnvList me={me} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
