/**
 * The spec fuzzer (issue 11): 2,000 mutations of the examples' specs and of the docs' spec
 * examples — types swapped, keys misspelled, values out of range, YAML broken, anchors and
 * aliases (a billion-laughs document), huge strings, deep nesting — each loaded and validated
 * in-process as `slipway validate` does. Every one is valid or a SpecError whose every issue is
 * located (file:line:column); never another error (a TypeError, a RangeError), never a hang.
 * A seeded PRNG makes a failure reproducible: the failing case's seed and text are printed.
 * A handful go through the real CLI binary too (exit 0 or 2, no stack trace).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { isMap, isScalar, isSeq, parseDocument, type Node, type Pair } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpecError } from "../../src/errors.js";
import { parseSpecText } from "../../src/spec/load.js";
import { validateAll } from "../../src/spec/resolve.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "slipway.js");
const SEED = 0x5eed_1100;
const MUTATIONS = 2000;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The corpus: every example's slipway.yaml, and the docs' YAML examples that hold services. */
function corpus(): { name: string; text: string; file?: string }[] {
  const out: { name: string; text: string; file?: string }[] = [];
  for (const ex of readdirSync(join(ROOT, "examples"))) {
    const file = join(ROOT, "examples", ex, "slipway.yaml");
    try {
      out.push({ name: `examples/${ex}`, text: readFileSync(file, "utf8"), file });
    } catch {
      /* an example without a spec */
    }
  }
  for (const f of readdirSync(join(ROOT, "docs")).filter((n) => n.endsWith(".md"))) {
    const md = readFileSync(join(ROOT, "docs", f), "utf8");
    let i = 0;
    for (const m of md.matchAll(/```yaml\n([\s\S]*?)```/g)) {
      let text = m[1];
      if (!/^services:/m.test(text)) continue;
      if (!/^project:/m.test(text)) text = `project: docs\n${text}`;
      if (!/^environments:/m.test(text)) text += `\nenvironments:\n  development:\n    target: process\n`;
      // A docs example is often a fragment: taken when its only issues are files absent here.
      if (!fragmentUsable(text)) continue;
      out.push({ name: `docs/${f}#${++i}`, text });
    }
  }
  return out;
}

function fragmentUsable(text: string): boolean {
  try {
    validateAll(parseSpecText(text, join(tmpdir(), "slipway-fuzz-none", "slipway.yaml")), {});
    return true;
  } catch (e) {
    return e instanceof SpecError && e.issues.every((i) => /not found|does not exist/i.test(i.message));
  }
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** Every node of a document with its parent pair (for key mutations). */
function nodes(doc: ReturnType<typeof parseDocument>): { node: Node; pair?: Pair }[] {
  const out: { node: Node; pair?: Pair }[] = [];
  const walk = (n: unknown, pair?: Pair) => {
    if (!n || typeof n !== "object") return;
    out.push({ node: n as Node, pair });
    if (isMap(n)) for (const p of n.items) walk(p.value, p);
    else if (isSeq(n)) for (const x of n.items) walk(x);
  };
  walk(doc.contents);
  return out;
}

const WEIRD_VALUES: unknown[] = [
  -1,
  0,
  1e308,
  -1e308,
  2 ** 53 + 1,
  0.5,
  1e-300,
  "",
  " ",
  "-5s",
  "0s",
  "1e9h",
  "999%",
  "-1%",
  "NaN",
  "Infinity",
  "101%",
  "10Gi",
  "-3",
  "0x1F",
  "1_000",
  "5 s",
  "s",
  "%",
  "${",
  "${X",
  "${:-x}",
  "${X:?}",
  "$${X}",
  "${X:-${Y}}",
  "{{",
  "::",
  "null",
  "~",
  "true",
  "\u0000",
  "\ud800",
  "é🚀",
  "a\nb",
  "--rm",
  "-rf /",
  "../../etc/passwd",
  "/dev/null",
  "http://",
  "http://[::1",
  "postgres://u:p@h:99999/db",
  "a".repeat(300),
  null,
  true,
  false,
  [],
  {},
  [null],
  [[[]]],
  { "": 1 },
  { __proto__: 1 },
  { constructor: 1 },
  { toString: 1 },
  { hasOwnProperty: "x" },
];

/** One structural mutation of the parsed document; false when it found nothing to mutate. */
function mutateTree(r: Rand, doc: ReturnType<typeof parseDocument>): string {
  const all = nodes(doc);
  const { node, pair } = pick(r, all);
  const kind = Math.floor(r() * 6);
  if (kind === 0 && pair && isScalar(pair.key)) {
    // A misspelled key: a letter dropped, doubled or changed, or another case.
    const k = String(pair.key.value);
    const i = Math.floor(r() * Math.max(1, k.length));
    const ops = [
      () => k.slice(0, i) + k.slice(i + 1),
      () => k.slice(0, i) + k[i] + k.slice(i),
      () => k.slice(0, i) + String.fromCharCode(97 + Math.floor(r() * 26)) + k.slice(i + 1),
      () => k.toUpperCase(),
      () => `${k}_`,
      () => "__proto__",
      () => "constructor",
    ];
    pair.key.value = pick(r, ops)();
    return "key misspelled";
  }
  if (kind === 1 && pair) {
    pair.value = doc.createNode(pick(r, WEIRD_VALUES));
    return "value swapped for an odd one";
  }
  if (kind === 2 && pair) {
    // A type swap: scalar ↔ map ↔ sequence.
    const v = isMap(node)
      ? ["x"]
      : isSeq(node)
        ? { a: 1 }
        : isScalar(node)
          ? r() < 0.5
            ? [node.value]
            : { v: node.value }
          : 1;
    pair.value = doc.createNode(v);
    return "type swapped";
  }
  if (kind === 3 && pair) {
    pair.value = doc.createNode(pick(r, ["x".repeat(1 << 20), "${A}".repeat(50_000), "9".repeat(5000)]));
    return "huge string";
  }
  if (kind === 4 && isMap(node)) {
    node.items.splice(Math.floor(r() * node.items.length), 1);
    return "key removed";
  }
  if (kind === 5 && (isMap(node) || isSeq(node))) {
    // Deep nesting under a random key.
    let v: unknown = "leaf";
    // Past the 64-level limit (deeper still comes as flow-style text below: cheap to write).
    for (let i = 60 + Math.floor(r() * 20); i > 0; i--) v = r() < 0.5 ? [v] : { n: v };
    if (isMap(node)) node.set(pick(r, ["services", "env", "health", "x", "rollout"]), doc.createNode(v));
    else node.items.push(doc.createNode(v));
    return "deep nesting";
  }
  if (pair) pair.value = doc.createNode(pick(r, WEIRD_VALUES));
  return "value swapped";
}

/** One textual mutation: YAML broken in the ways editors break it. */
function mutateText(r: Rand, text: string): string {
  const i = Math.floor(r() * text.length);
  const ops = [
    () => text.slice(0, i) + text.slice(i + 1 + Math.floor(r() * 5)),
    () =>
      text.slice(0, i) +
      pick(r, [
        ":",
        "\t",
        "{",
        "}",
        "[",
        "]",
        '"',
        "'",
        "&a ",
        "*a",
        "!",
        "!!binary ",
        "? ",
        "- ",
        "|",
        ">",
        "%",
        "@",
        "`",
        "#",
        "\n  ",
        "\n",
        "\r",
        "\u00a0",
        "---\n",
        "...\n",
        "<<: *a\n",
      ]) +
      text.slice(i),
    () => text.replace(/\n {2}/g, pick(r, ["\n   ", "\n ", "\n\t"])),
    () => text.slice(0, i),
    () => text.slice(0, i) + "[".repeat(2000) + text.slice(i),
    () => text + `\n${text}`,
    () => text.replace(/^services:/m, "services: &s\n  self: *s\n"),
    () => `a: &a [x]\n${text}`.replace(/^(\s+\w+:) (\S+)$/m, "$1 *a"),
    () =>
      `x-anchor: &base { run: node a.js, port: 1 }\n${text.replace(/^services:\n/m, "services:\n  extra:\n    <<: *base\n")}`,
  ];
  return pick(r, ops)();
}

function billionLaughs(levels: number): string {
  const lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
  for (let l = 1; l < levels; l++) {
    const prev = String.fromCharCode(96 + l);
    const cur = String.fromCharCode(97 + l);
    lines.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(", ")}]`);
  }
  return `project: lol\n${lines.join("\n")}\nservices:\n  web: { run: node a.js, env: { X: *${String.fromCharCode(96 + levels)} } }\n`;
}

interface Outcome {
  ok: boolean;
  ms: number;
  problem?: string;
}

/** CPU milliseconds of this process (user + system): what a hang costs, whatever the machine's load. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function validate(text: string, file: string): Outcome {
  const t0 = cpuMs();
  try {
    validateAll(parseSpecText(text, file), {});
    return { ok: true, ms: cpuMs() - t0 };
  } catch (e) {
    const ms = cpuMs() - t0;
    if (!(e instanceof SpecError))
      return { ok: false, ms, problem: `${(e as Error)?.name}: ${(e as Error)?.stack ?? e}` };
    const unlocated = e.issues.filter((i) => !i.file || !i.line || !i.column);
    if (unlocated.length)
      return { ok: false, ms, problem: `unlocated: ${JSON.stringify(unlocated.slice(0, 3))}` };
    if (/\n\s+at \S+ \(/.test(e.message)) return { ok: false, ms, problem: `stack in message: ${e.message}` };
    return { ok: false, ms };
  }
}

const dir = mkdtempSync(join(tmpdir(), "slipway-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The mutated cases, the same for every run (fixed seed). */
interface Case {
  seed: number;
  what: string;
  source: string;
  text: string;
  /** Where it is validated: an example's own file (its `path:` directories exist), else a temp file. */
  file?: string;
}

async function cases(): Promise<Case[]> {
  const specs = corpus();
  const out: Case[] = [];
  out.push({ seed: -1, what: "billion laughs", source: "built", text: billionLaughs(9) });
  out.push({ seed: -2, what: "billion laughs (small)", source: "built", text: billionLaughs(4) });
  const parsed = new Map(specs.map((x) => [x, parseDocument(x.text)]));
  for (let n = 0; out.length < MUTATIONS; n++) {
    if (n % 50 === 0) await yieldToVitest();
    const seed = SEED + n;
    const r = prng(seed);
    const base = pick(r, specs);
    let text = base.text;
    let pristine = true;
    const whats: string[] = [];
    // One to three mutations on top of each other.
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
      if (r() < 0.35) {
        text = mutateText(r, text);
        pristine = false;
        whats.push("text");
        continue;
      }
      // The corpus is parsed once: a first tree mutation works on a clone.
      const doc = pristine ? parsed.get(base)!.clone() : parseDocument(text);
      if (doc.errors.length || !doc.contents) {
        text = mutateText(r, text);
        whats.push("text");
        continue;
      }
      const what = mutateTree(r, doc);
      pristine = false;
      try {
        text = doc.toString({ lineWidth: 0 });
        whats.push(what);
      } catch {
        // The mutation removed an anchor an alias needs: YAML cannot write it; break the text instead.
        text = mutateText(r, text);
        whats.push("text");
      }
    }
    out.push({ seed, what: whats.join(" + "), source: base.name, text, file: base.file });
  }
  return out;
}

/** The loop is synchronous work: let vitest's worker answer its own messages now and then. */
const yieldToVitest = () => new Promise<void>((r) => setImmediate(r));

describe("the spec fuzzer", () => {
  let all: Case[] = [];
  beforeAll(async () => {
    all = await cases();
  }, 180_000);

  it(`${MUTATIONS} mutations: valid, or a located SpecError; never another error, never slow`, async () => {
    const tmpFile = join(dir, "slipway.yaml");
    const failures: string[] = [];
    let valid = 0;
    let slowest = { ms: 0, what: "" };
    const t0 = cpuMs();
    for (const [n, c] of all.entries()) {
      if (n % 50 === 0) await yieldToVitest();
      const o = validate(c.text, c.file ?? tmpFile);
      if (o.ok) valid++;
      if (o.ms > slowest.ms) slowest = { ms: o.ms, what: `${c.seed} ${c.what}` };
      if (o.problem || o.ms > 1500)
        failures.push(
          `seed ${c.seed} (${c.what}, from ${c.source}, ${Math.round(o.ms)} ms): ${o.problem ?? "too slow"}\n--- text ---\n${c.text.slice(0, 600)}`,
        );
      if (failures.length >= 5) break;
    }
    const total = cpuMs() - t0;
    expect(failures, failures.join("\n\n")).toEqual([]);
    // Most mutations are caught, and the valid ones show the corpus itself is valid.
    expect(valid).toBeGreaterThan(0);
    expect(valid).toBeLessThan(all.length);
    // CPU time (the machine may be shared). A hang or a blow-up shows in one case (over 1.5 s
    // above). The whole run guards against a general slowdown: it costs ~4× validating every case's
    // unmutated source (the huge-string mutations dominate; 18.0 and 20.1 s in two full-suite runs
    // on 2 cores, where a fixed 20 s failed), so the bound is 6× that, and at least 30 s.
    const own = new Map<string, number>();
    for (const s of corpus()) {
      const f = s.file ?? tmpFile;
      own.set(s.name, Math.min(...[0, 1, 2].map(() => validate(s.text, f).ms)));
    }
    const baseline = all.reduce((sum, c) => sum + (own.get(c.source) ?? 0), 0);
    expect(
      total,
      `slowest: ${slowest.what} ${Math.round(slowest.ms)} ms; the unmutated sources: ${Math.round(baseline)} ms`,
    ).toBeLessThan(Math.max(30_000, 6 * baseline));
  }, 180_000);

  it("the corpus is the examples (valid) and the docs' spec examples", () => {
    const specs = corpus();
    for (const s of specs.filter((x) => x.file))
      expect(validate(s.text, s.file!), s.name).toMatchObject({ ok: true });
    expect(specs.filter((x) => x.file).length).toBeGreaterThan(0);
    expect(specs.filter((x) => !x.file).length).toBeGreaterThanOrEqual(5);
  });

  it("a handful through the real CLI: exit 0 or 2, a located message, no stack trace", () => {
    const sample = [all[0], ...all.filter((_, i) => i % 250 === 1)];
    for (const c of sample) {
      const file = join(dir, `cli-${c.seed}.yaml`);
      writeFileSync(file, c.text);
      const r = spawnSync(process.execPath, [BIN, "-f", file, "validate", "--no-color"], {
        encoding: "utf8",
        timeout: 30_000,
        env: { ...process.env, NO_COLOR: "1" },
      });
      expect([0, 2], `seed ${c.seed}: ${r.stderr}`).toContain(r.status);
      expect(r.stderr).not.toMatch(/\n\s+at \S+/);
      if (r.status === 2) expect(r.stderr).toContain(`${file}:`);
      if (c.seed === -1) expect(r.stderr).toMatch(/:\d+:\d+: YAML: the aliases expand to too many nodes/);
    }
  }, 120_000);
});
