/** The README's quick start: examples/quickstart deploys and answers (ports moved off 8080/8081). */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { BIN, ROOT, killDaemon, processesUnder } from "./harness.js";

const home = mkdtempSync(join(tmpdir(), "slipway-qs-"));
const file = join(ROOT, "examples", "quickstart", "slipway.yaml");

function fetchText(port: number, path = "/"): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let b = "";
      res.on("data", (d) => (b += d));
      res.on("end", () => resolve(b));
    }).on("error", reject);
  });
}

afterAll(() => {
  spawnSync(process.execPath, [BIN, "-f", file, "destroy", "development", "--in-process"], {
    env: { ...process.env, SLIPWAY_HOME: home },
  });
  killDaemon(home);
  for (const p of processesUnder(home)) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  rmSync(home, { recursive: true, force: true });
});

describe("quick start", () => {
  it("deploys web + api + worker and prints where they are reachable", async () => {
    const web = await freePort();
    const api = await freePort();
    const env = {
      ...process.env,
      SLIPWAY_HOME: home,
      WEB_PORT: String(web),
      API_PORT: String(api),
      NO_COLOR: "1",
    };
    const r = spawnSync(
      process.execPath,
      [BIN, "-f", file, "deploy", "development", "--in-process", "--version", "qs1"],
      {
        env,
        encoding: "utf8",
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`web          http://127.0.0.1:${web}`);
    expect(await fetchText(web)).toContain("<h1>hello from the api</h1><p>web qs1, api qs1</p>");
    const st = spawnSync(process.execPath, [BIN, "-f", file, "status", "development", "--json"], {
      env,
      encoding: "utf8",
    });
    const services = (JSON.parse(st.stdout) as { result: { services: { name: string; status: string }[] } })
      .result.services;
    expect(services.map((s) => [s.name, s.status])).toEqual([
      ["api", "running"],
      ["web", "running"],
      ["worker", "running"],
    ]);
  });
});
