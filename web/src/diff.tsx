/**
 * The spec of two revisions compared, leaf by leaf. Revisions store their resolved spec with
 * every secret as a ${VAR} reference (spec/snapshot.ts), so that is what is shown; as a second
 * guard, a value under a secret-looking key that is not a pure reference is never printed.
 */
import { useState } from "preact/hooks";
import { op, type EnvSummary } from "./api";

export interface Change {
  path: string;
  before?: string;
  after?: string;
}

const SECRET_KEY = /SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL/i;
const REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

function leaves(v: unknown, path: string, out: Map<string, string>): Map<string, string> {
  if (v && typeof v === "object") {
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
    if (!entries.length) out.set(path, Array.isArray(v) ? "[]" : "{}");
    for (const [k, x] of entries) leaves(x, path ? `${path}.${k}` : k, out);
  } else if (v !== undefined) out.set(path, typeof v === "string" ? v : JSON.stringify(v));
  return out;
}

/** A value as it may be shown: references as they are, anything else under a secret-looking key hidden. */
function shown(path: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  // The key the value sits under (env.DB_PASSWORD), not a list of names (secretEnv.0).
  const secretish = SECRET_KEY.test(path.split(".").pop() ?? "");
  return secretish && !REFERENCE.test(v) ? "(hidden)" : v;
}

/** Leaf-level differences between two snapshots, sorted by path. */
export function specDiff(a: unknown, b: unknown): Change[] {
  const before = leaves(a, "", new Map());
  const after = leaves(b, "", new Map());
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  return paths
    .filter((p) => before.get(p) !== after.get(p))
    .map((p) => ({ path: p, before: shown(p, before.get(p)), after: shown(p, after.get(p)) }));
}

interface Rev {
  number: number;
  version: string;
}
type Snap = [{ revision: { snapshot?: unknown } }];

export function SpecDiff({ env, revisions }: { env: EnvSummary; revisions: Rev[] }) {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [changes, setChanges] = useState<Change[] | undefined>();
  const [error, setError] = useState("");
  const a = from || String(revisions[1]?.number ?? "");
  const b = to || String(revisions[0]?.number ?? "");
  const compare = async (e: Event) => {
    e.preventDefault();
    setError("");
    try {
      const [[x], [y]] = await Promise.all(
        [a, b].map((n) => op<Snap>("history", env, { revision: Number(n) })),
      );
      setChanges(specDiff(x.revision.snapshot, y.revision.snapshot));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const select = (id: string, label: string, value: string, set: (v: string) => void) => (
    <div>
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
        {revisions.map((r) => (
          <option key={r.number} value={r.number}>
            {r.number} · {r.version}
          </option>
        ))}
      </select>
    </div>
  );
  return (
    <section aria-label="Spec diff">
      <h3>Compare the spec of two revisions</h3>
      <form onSubmit={compare} class="inline" aria-label="Compare revisions">
        {select("diff-from", "From revision", a, setFrom)}
        {select("diff-to", "To revision", b, setTo)}
        <button type="submit" disabled={revisions.length < 2}>
          Compare
        </button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {changes &&
        (changes.length ? (
          <table class="diff">
            <thead>
              <tr>
                <th scope="col">field</th>
                <th scope="col">revision {a}</th>
                <th scope="col">revision {b}</th>
              </tr>
            </thead>
            <tbody>
              {changes.map((c) => (
                <tr key={c.path}>
                  <th scope="row">
                    <code>{c.path}</code>
                  </th>
                  <td class="del">{c.before ?? <span class="muted">(absent)</span>}</td>
                  <td class="add">{c.after ?? <span class="muted">(absent)</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p role="status">The two revisions have the same spec.</p>
        ))}
    </section>
  );
}
