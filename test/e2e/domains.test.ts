/**
 * Domains end to end with the real CLI (in-process engine), proxy and app processes: two
 * projects on one machine's shared listeners, HTTPS from certificate files of a throw-away CA,
 * the public URL in deploy/status output, smoke requests through the host name, and a domain
 * another project holds refused with exit 4.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { makeTestCa } from "../support/test-ca.js";
import { APP, BIN } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "slipway-e2e-domains-"));
const home = join(dir, "home");
const ca = makeTestCa(dir);
const env: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_HOME: home, NO_COLOR: "1" };
delete env.SLIPWAY_DATABASE_URL;
const made: ((args: string[]) => unknown)[] = [];

function project(
  name: string,
  body: string,
): (args: string[]) => { code: number | null; out: string; err: string } {
  const p = join(dir, name);
  mkdirSync(join(p, "app"), { recursive: true });
  writeFileSync(join(p, "app", "app.js"), APP);
  writeFileSync(join(p, "app", "package.json"), '{ "type": "module" }');
  writeFileSync(join(p, "slipway.yaml"), body);
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, "-f", join(p, "slipway.yaml"), ...args], {
      env,
      encoding: "utf8",
      timeout: 120_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  made.push(cli);
  return cli;
}

const spec = (
  project: string,
  port: number,
  listeners: string,
  domains: string,
  tls: string,
) => `project: ${project}
environments:
  development:
    target: process
    proxy: { ${listeners}, redirectHttp: true, hsts: 1y }
services:
  api:
    run: node app.js
    path: ./app
    port: ${port}
    domains: [${domains}]
    ${tls}
    env: { RELEASE: "\${VERSION}" }
    health: { http: /health, interval: 200ms, timeout: 1s }
    smoke: [{ http: /, expectStatus: 200 }]
    stop: { grace: 2s }
    rollout: { drainTimeout: 1s, keepWarm: 0s }
`;

function viaHttps(port: number, name: string): Promise<{ status: number; body: string; hsts?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        servername: name,
        headers: { host: name },
        ca: ca.pem,
        agent: false,
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            hsts: res.headers["strict-transport-security"] as string | undefined,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

afterAll(() => {
  for (const cli of made) cli(["destroy", "development", "--in-process", "--yes"]);
  try {
    process.kill(Number(readFileSync(join(home, "proxy", "proxy.pid"), "utf8")), "SIGTERM");
  } catch {
    /* not started or gone */
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("domains end to end", () => {
  it("deploys two projects on shared listeners, prints https URLs, smokes through the host name, refuses a taken domain", async () => {
    const [http, https] = [await freePort(), await freePort()];
    const listeners = `http: ${http}, https: ${https}`;
    const certA = ca.issue("a", ["api.a.test"]);
    const a = project(
      "a",
      spec(
        "alpha",
        await freePort(),
        listeners,
        "api.a.test",
        `tls: { cert: ${certA.cert}, key: ${certA.key} }`,
      ),
    );
    const certB = ca.issue("b", ["api.b.test"]);
    const b = project(
      "b",
      spec(
        "beta",
        await freePort(),
        listeners,
        "api.b.test",
        `tls: { cert: ${certB.cert}, key: ${certB.key} }`,
      ),
    );

    const da = a(["deploy", "development", "--version", "v1", "--in-process"]);
    expect(da.code, da.err).toBe(0);
    expect(da.out + da.err).toContain(`https://api.a.test:${https}`);
    const db = b(["deploy", "development", "--version", "b1", "--in-process"]);
    expect(db.code, db.err).toBe(0);

    expect(await viaHttps(https, "api.a.test")).toMatchObject({
      status: 200,
      body: "v1",
      hsts: "max-age=31536000",
    });
    expect((await viaHttps(https, "api.b.test")).body).toBe("b1");

    const st = a(["status", "development", "--in-process", "--json"]);
    expect(st.code, st.err).toBe(0);
    expect(st.out).toContain(`https://api.a.test:${https}`);

    // A new release switches the host route like a port route.
    expect(a(["deploy", "development", "--version", "v2", "--in-process"]).code).toBe(0);
    expect((await viaHttps(https, "api.a.test")).body).toBe("v2");

    // Another project naming alpha's domain on the same listener is refused before anything starts.
    const certC = ca.issue("c", ["api.a.test"]);
    const c = project(
      "c",
      spec(
        "gamma",
        await freePort(),
        listeners,
        "api.a.test",
        `tls: { cert: ${certC.cert}, key: ${certC.key} }`,
      ),
    );
    const dc = c(["deploy", "development", "--version", "c1", "--in-process"]);
    expect(dc.code).toBe(4);
    expect(dc.err).toContain("api.a.test is already routed on");
    expect(dc.err).toContain("alpha/development/api");
    expect((await viaHttps(https, "api.a.test")).body).toBe("v2");
  });

  it("validate refuses a domain on two services and tls without an https listener, with locations", async () => {
    const v = project(
      "v",
      `project: v
environments:
  development:
    proxy: { http: 8080 }
services:
  one: { run: node app.js, path: ./app, port: 4001, domains: [x.test] }
  two: { run: node app.js, path: ./app, port: 4002, domains: [x.test], tls: { acme: { email: a@b.c } } }
`,
    )(["validate"]);
    expect(v.code).toBe(2);
    expect(v.err).toMatch(/slipway\.yaml:\d+:\d+.*x\.test is also a domain of service "one"/);
    expect(v.err).toContain("tls needs an HTTPS listener: set environments.development.proxy.https");
  });

  it("refuses a key that is not the certificate's and a certificate that does not cover a domain, before anything starts", async () => {
    const x = ca.issue("pair-x", ["x.test"]);
    const y = ca.issue("pair-y", ["y.test"]);
    const cli = project(
      "pair",
      spec(
        "pair",
        await freePort(),
        `http: ${await freePort()}, https: ${await freePort()}`,
        "x.test, www.x.test",
        `tls: { cert: "${x.cert}", key: "${y.key}" }`,
      ),
    );
    // validate is lenient about files (they may exist only where it deploys); plan and deploy are not.
    for (const args of [
      ["plan", "development"],
      ["deploy", "development", "--in-process"],
    ]) {
      const r = cli(args);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(
        /slipway\.yaml:\d+:\d+: services\.api\.tls\.key: .*pair-y\.key is not the private key/,
      );
      expect(r.err).toMatch(
        /services\.api\.tls\.cert: the certificate in .*pair-x\.pem .* does not cover www\.x\.test/,
      );
    }
    expect(cli(["history", "development"]).out).toContain("no revisions yet");
  });
});
