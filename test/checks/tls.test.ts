import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { runChecks } from "../../src/checks/runner.js";
import { checkSchema } from "../../src/spec/schema-checks.js";
import { freePort } from "../support/ports.js";

const dir = mkdtempSync(join(tmpdir(), "slipway-tls-"));
const parse = (v: unknown[]) => z.array(checkSchema).parse(v);

function makeCert(name: string, days: number): void {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-sha256",
      "-keyout",
      join(dir, `${name}.key`),
      "-out",
      join(dir, `${name}.pem`),
      "-days",
      String(days),
      "-subj",
      `/CN=${name}.example.test`,
    ],
    { stdio: "ignore" },
  );
}

let servers: Server[] = [];
async function serve(name: string): Promise<number> {
  const srv = createServer({
    key: readFileSync(join(dir, `${name}.key`)),
    cert: readFileSync(join(dir, `${name}.pem`)),
  });
  srv.on("secureConnection", (s) => s.end());
  srv.on("tlsClientError", () => {});
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  servers.push(srv);
  const a = srv.address();
  return typeof a === "object" && a ? a.port : 0;
}

beforeAll(() => {
  makeCert("soon", 3);
  makeCert("fine", 90);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  servers = [];
  rmSync(dir, { recursive: true, force: true });
});

describe("tls check (openssl certificates)", () => {
  it("file: 90 days passes, 3 days fails minDays 14; evidence names subject and notAfter", async () => {
    const [fine, soon] = await runChecks(
      parse([{ tls: { file: "fine.pem", minDays: 14 } }, { tls: { file: "soon.pem", minDays: 14 } }]),
      { cwd: dir, vars: {} },
    );
    expect(fine.status).toBe("passed");
    expect(fine.evidence).toContain("CN=fine.example.test");
    expect(fine.evidence).toMatch(/notAfter \d{4}-\d\d-\d\dT/);
    expect(fine.details?.daysLeft).toBeGreaterThanOrEqual(89);
    expect(soon.status).toBe("failed");
    expect(soon.evidence).toContain("CN=soon.example.test");
    expect(soon.evidence).toMatch(/expires in [23] day\(s\), needs at least 14/);
  });

  it("host:port: reads the certificate from a real TLS listener", async () => {
    const soonPort = await serve("soon");
    const finePort = await serve("fine");
    const [soon, fine] = await runChecks(
      parse([{ tls: `127.0.0.1:${soonPort}` }, { tls: { host: `127.0.0.1:${finePort}`, minDays: 30 } }]),
      { cwd: dir, vars: {} },
    );
    expect(soon.status).toBe("failed");
    expect(soon.evidence).toContain("CN=soon.example.test");
    expect(fine.status, fine.evidence).toBe("passed");
    expect(fine.details?.trusted).toBe(false); // self-signed: reported, not judged
  });

  it("fails clearly on a missing file or a closed port", async () => {
    const port = await freePort();
    const [file, host] = await runChecks(
      parse([{ tls: { file: "nope.pem" } }, { tls: `127.0.0.1:${port}` }]),
      {
        cwd: dir,
        vars: {},
      },
    );
    expect(file.status).toBe("failed");
    expect(file.evidence).toContain("certificate file not found");
    expect(host.status).toBe("failed");
    expect(host.evidence).toContain("ECONNREFUSED");
  });
});
