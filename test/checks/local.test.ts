import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { runChecks, summarizeChecks } from "../../src/checks/runner.js";
import type { CheckResult } from "../../src/checks/types.js";
import { createCheckRunner } from "../../src/checks/engine-adapter.js";
import { formatCheckResult } from "../../src/cli/render-check.js";
import type { CheckEvent } from "../../src/engine/events.js";
import type { CheckRunner } from "../../src/engine/run.js";
import type { ResolvedSpec } from "../../src/spec/resolved.js";
import { checkSchema } from "../../src/spec/schema-checks.js";

const dir = mkdtempSync(join(tmpdir(), "slipway-checks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const parse = (v: unknown[]) => z.array(checkSchema).parse(v);

describe("command check", () => {
  it("passes on exit 0 in the spec dir and fails with the output tail", async () => {
    mkdirSync(join(dir, "app"), { recursive: true });
    writeFileSync(join(dir, "app", "marker"), "");
    const [ok, bad] = await runChecks(
      parse([
        { command: { run: "test -f marker && echo all good", cwd: "app" } },
        { command: "for i in $(seq 1 40); do echo line $i; done; echo 'FAIL: 2 tests' >&2; exit 1" },
      ]),
      { cwd: dir, vars: {} },
    );
    expect(ok.status, ok.evidence).toBe("passed");
    expect(ok.evidence).toMatch(/^exit 0 in/);
    expect(ok.evidence).toContain("all good");
    expect(bad.status).toBe("failed");
    expect(bad.evidence).toMatch(/^exit 1 in/);
    expect(bad.evidence).toContain("FAIL: 2 tests");
    expect(bad.evidence).toContain("line 40");
    expect(bad.evidence).not.toContain("line 10\n"); // only the tail
  });

  it("kills the whole process group at its timeout", async () => {
    const pidFile = join(dir, "child.pid");
    const [r] = await runChecks(
      parse([{ command: `sleep 30 & echo $! > ${pidFile}; wait`, timeout: "500ms" }]),
      {
        cwd: dir,
        vars: {},
      },
    );
    expect(r.status).toBe("failed");
    expect(r.evidence).toContain("timed out after 500ms");
    const pid = Number(readFileSync(pidFile, "utf8"));
    // Gone, or a zombie waiting to be reaped (its parent shell was killed with it).
    const running = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
      } catch {
        return false;
      }
    };
    let alive = running();
    for (let i = 0; i < 40 && alive; i++) {
      await new Promise((res) => setTimeout(res, 50));
      alive = running();
    }
    expect(alive).toBe(false);
  });

  it("gets the interpolation variables, and secrets in its output are redacted", async () => {
    const [r] = await runChecks(parse([{ command: 'echo "url=$DATABASE_URL key=$API_KEY"' }]), {
      cwd: dir,
      vars: { DATABASE_URL: "postgres://app:Sup3rS3cret@db/app", API_KEY: "ak_live_123456" },
    });
    expect(r.status).toBe("passed");
    expect(r.evidence).toContain("url=postgres://app:***@db/app");
    expect(r.evidence).toContain("key=***");
    expect(r.evidence).not.toContain("Sup3rS3cret");
    expect(r.evidence).not.toContain("ak_live_123456");
  });
});

describe("resources check (this machine)", () => {
  it("passes under generous thresholds and fails under impossible ones, with measurements", async () => {
    const [ok, bad, cpu] = await runChecks(
      parse([
        { resources: { disk: { path: dir, max: "100%" }, memory: { max: "100%" } } },
        { resources: { disk: { path: dir, max: "0%" } } },
        { resources: { cpu: { max: "100%" } } },
      ]),
      { cwd: dir, vars: {} },
    );
    expect(ok.status, ok.evidence).toBe("passed");
    expect(ok.evidence).toMatch(/disk used \d/);
    expect(ok.evidence).toMatch(/memory used \d/);
    expect(bad.status).toBe("failed");
    expect(bad.evidence).toMatch(/^disk used .* \(max 0\.0%\)/);
    expect(bad.lineStatus?.[0]).toBe("failed");
    expect((bad.details?.disk as { value: number }).value).toBeGreaterThan(0);
    // The load on a shared machine is what it is: the verdict must agree with the measurement.
    const load = cpu.details?.cpu as { value: number; load1: number; cores: number };
    expect(cpu.evidence).toMatch(/cpu load \d+(\.\d)?% \(load \d+\.\d\d on \d+ cores\)/);
    expect(load.value).toBeCloseTo(load.load1 / load.cores, 6);
    expect(cpu.status).toBe(load.value > 1 ? "failed" : "passed");
  });

  it("memory over its max fails with the measurement; the disk part beside it still passes", async () => {
    const [r] = await runChecks(
      parse([{ resources: { disk: { path: dir, max: "100%" }, memory: { max: "0%" } } }]),
      { cwd: dir, vars: {} },
    );
    expect(r.status).toBe("failed");
    // One line per measurement, each with its status (the CLI marks them ✔/✖; no glyph in the data).
    expect(r.evidence.split("\n")).toEqual([
      expect.stringMatching(/^disk used [\d.]+% on /),
      expect.stringMatching(/^memory used [\d.]+%, [\d.]+Gi available \(max 0\.0%\)$/),
    ]);
    expect(r.lineStatus).toEqual(["passed", "failed"]);
    const memory = r.details?.memory as { value: number; max: number; ok: boolean };
    expect(memory).toMatchObject({ max: 0, ok: false });
    // The value is this machine's: 1 - MemAvailable / MemTotal, read here independently.
    const meminfo = readFileSync("/proc/meminfo", "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(meminfo)?.[1]);
    expect(memory.value).toBeGreaterThan(0);
    expect(memory.value).toBeCloseTo(1 - kb("MemAvailable") / kb("MemTotal"), 1);
  });
});

describe("gpu check", () => {
  // There is no GPU on this machine: a fake nvidia-smi script on PATH prints what a real one
  // prints for `--query-gpu=index,name,memory.total,memory.free --format=csv,noheader,nounits`.
  const bin = join(dir, "fake-bin");
  const emptyBin = join(dir, "empty-bin");
  mkdirSync(bin, { recursive: true });
  mkdirSync(emptyBin, { recursive: true });
  writeFileSync(
    join(bin, "nvidia-smi"),
    [
      "#!/bin/sh",
      'case "$*" in *--query-gpu=index,name,memory.total,memory.free*--format=csv,noheader,nounits*) ;;',
      '  *) echo "unexpected args: $*" >&2; exit 2;; esac',
      "echo '0, NVIDIA A100-SXM4-40GB, 40960, 38000'",
      "echo '1, NVIDIA A100-SXM4-40GB, 40960, 4000'",
      "echo '2, NVIDIA A100-SXM4-40GB, 40960, 40000'",
    ].join("\n"),
  );
  chmodSync(join(bin, "nvidia-smi"), 0o755);
  const withPath = (p: string) => ({ cwd: dir, vars: {}, env: { PATH: `${p}:/usr/bin:/bin` } });

  it("counts GPUs with enough free memory, among the pinned devices", async () => {
    const [ok, pinned, many] = await runChecks(
      parse([
        { gpu: { count: 2, minFreeMemory: "20Gi" } },
        { gpu: { count: 2, devices: [0, 1], minFreeMemory: "20Gi" } },
        { gpu: { count: 4 } },
      ]),
      withPath(bin),
    );
    expect(ok.status, ok.evidence).toBe("passed");
    expect(ok.evidence).toContain("2 GPU(s) with ≥ 20.0Gi free");
    expect(pinned.status).toBe("failed");
    expect(pinned.evidence).toContain("1 GPU(s) with ≥ 20.0Gi free of 2 required among devices 0, 1");
    expect(many.status).toBe("failed");
  });

  it("nvidia-smi absent: fails or is skipped as declared", async () => {
    const [fail, skip] = await runChecks(
      parse([{ gpu: { count: 1 } }, { gpu: { count: 1, ifMissing: "skip" } }]),
      withPath(emptyBin),
    );
    expect(fail.status).toBe("failed");
    expect(fail.evidence).toContain("nvidia-smi not found");
    expect(skip.status).toBe("skipped");
  });
});

describe("confirm check", () => {
  const items = ["deploy announced to the team", "rollback plan reviewed"];

  it("passes when every item is confirmed up front and records who", async () => {
    const [r] = await runChecks(parse([{ confirm: items }]), {
      cwd: dir,
      vars: {},
      confirmed: ["Deploy announced to the team", "rollback plan reviewed"],
      confirmedBy: "alice@laptop",
    });
    expect(r.status).toBe("passed");
    expect(r.evidence).toContain("confirmed by alice@laptop");
    expect(r.details?.confirmedBy).toBe("alice@laptop");
  });

  it("asks for the rest interactively; unconfirmed items fail and are listed", async () => {
    const asked: string[] = [];
    const [r] = await runChecks(parse([{ confirm: items }]), {
      cwd: dir,
      vars: {},
      confirmed: [items[0]],
      confirm: async (item) => {
        asked.push(item);
        return false;
      },
    });
    expect(asked).toEqual([items[1]]);
    expect(r.status).toBe("failed");
    expect(r.evidence).toContain('not confirmed: "rollback plan reviewed"');
    expect(r.evidence).toContain('--confirm "rollback plan reviewed"');
  });
});

describe("runner", () => {
  it("reports warning-severity failures as warnings, streams results in order, summarizes", async () => {
    const seen: string[] = [];
    const results = await runChecks(
      parse([
        { command: "true", name: "ok" },
        { command: "exit 1", name: "advisory", severity: "warning" },
        { command: "exit 1", name: "blocking" },
      ]),
      { cwd: dir, vars: {}, onResult: (r: CheckResult, i) => seen.push(`${i}:${r.name}:${r.status}`) },
    );
    expect(seen).toEqual(["0:ok:passed", "1:advisory:warning", "2:blocking:failed"]);
    expect(results.every((r) => r.durationMs >= 0)).toBe(true);
    const s = summarizeChecks(results);
    expect(s.ok).toBe(false);
    expect(s.summary).toBe("1 passed, 1 warning(s), 1 failed: blocking");
    expect(summarizeChecks(results.slice(0, 2)).ok).toBe(true);
  });

  it("skips what is left when cancelled", async () => {
    const ac = new AbortController();
    const marker = join(dir, "should-not-exist");
    const results = await runChecks(parse([{ command: "sleep 10" }, { command: `touch ${marker}` }]), {
      cwd: dir,
      vars: {},
      signal: ac.signal,
      onStart: (_c, i) => i === 0 && setTimeout(() => ac.abort(), 200),
    });
    expect(results.map((r) => r.status)).toEqual(["failed", "skipped"]);
    expect(results[0].evidence).toContain("cancelled");
    expect(existsSync(marker)).toBe(false);
  });
});

describe("engine adapter and formatting", () => {
  it("fits the engine's CheckRunner, emits one check event per check (data, no glyphs) and stops on failure", async () => {
    const runner: CheckRunner = createCheckRunner({ vars: {}, confirmedBy: "ci@runner" });
    const events: CheckEvent[] = [];
    const spec = {
      dir,
      checks: parse([{ command: "echo fine" }, { command: "echo broken; exit 2", name: "lint" }]),
    };
    const r = await runner(spec as unknown as ResolvedSpec, (e) => {
      if (e.type === "check") events.push(e);
    });
    expect(r.ok).toBe(false);
    expect(r.summary).toBe("1 passed, 1 failed: lint");
    expect(events.map((e) => [e.type, e.kind, e.status])).toEqual([
      ["check", "command", "passed"],
      ["check", "command", "failed"],
    ]);
    expect(events[1].name).toBe("lint");
    expect(events[1].evidence).toMatch(/^exit 2 in \d+ms\nbroken$/);
    expect(JSON.stringify(events)).not.toMatch(/[✔✖]/);
    // What the terminal shows for it (src/cli/render-check.ts).
    expect(formatCheckResult(events[1])).toMatch(/^✖ lint {2}\(\d+ms\)\n {4}exit 2 in \d+ms\n {4}broken$/);
  });

  it("keeps the head and the tail of long evidence", () => {
    const evidence = ["exit 1 in 2s", ...Array.from({ length: 30 }, (_, i) => `line ${i + 1}`)].join("\n");
    const text = formatCheckResult(
      { name: "npm test", kind: "command", status: "failed", evidence, durationMs: 2000 },
      { evidenceLines: 3 },
    );
    expect(text).toBe("✖ npm test  (2s)\n    exit 1 in 2s\n    …\n    line 29\n    line 30");
  });
});
