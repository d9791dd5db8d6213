/**
 * ACME against a real CA on this machine (Caddy's acme_server): the proxy answers HTTP-01 on its
 * shared HTTP listener (port 80, as the CA validates it), stores the account key and certificate
 * 0600, serves the certificate by SNI, keeps the site up while an issuance fails, and reuses the
 * stored certificate after a restart. The name resolves to 127.0.0.1 through a tagged
 * /etc/hosts line that afterAll removes (the tests run as root).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import type { TLSSocket } from "node:tls";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renewAt } from "../../src/proxy/acme.js";
import { ProxyClient } from "../../src/proxy/client.js";
import type { Route } from "../../src/proxy/contract.js";
import { hostsEntry, startCaddyAcme, type CaddyAcme } from "../support/caddy-acme.js";
import { freePort, waitFor } from "../support/ports.js";
import { get, route, startUpstream, target, type Upstream } from "./helpers.js";

const NAME = `acme-${process.pid}.slipway.test`;
const dir = mkdtempSync(join(tmpdir(), "slipway-acme-"));
const home = join(dir, "home");
let caddy: CaddyAcme;
let client: ProxyClient;
let app: Upstream;
let unhosts = () => {};
let https = 0;

const port80Free = () =>
  new Promise<boolean>((resolve) => {
    const s = createConnection(80, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(false)));
    s.once("error", () => resolve(true));
  });

beforeAll(async () => {
  expect(await port80Free(), "port 80 on 127.0.0.1 must be free for HTTP-01").toBe(true);
  caddy = await startCaddyAcme(dir);
  unhosts = hostsEntry(NAME);
  // Read by the proxy process at start: trust Caddy's local root, retry failed issuance fast.
  process.env.NODE_EXTRA_CA_CERTS = caddy.rootFile;
  process.env.SLIPWAY_ACME_RETRY_MS = "300";
  process.env.SLIPWAY_ACME_HTTP_RETRIES = "0";
  client = new ProxyClient({ home });
  await client.ensureRunning();
  app = await startUpstream("acme-app");
  https = await freePort();
}, 60_000);

afterAll(async () => {
  unhosts();
  await client?.stop(10_000);
  await caddy?.stop();
  await app?.close();
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
});

const acmeRoute = async (directory: string): Promise<Route> =>
  route("acme/prod/web", await freePort(), [target("w1", app)], {
    edge: {
      domains: [NAME],
      http: { host: "127.0.0.1", port: 80 },
      https: { host: "127.0.0.1", port: https },
      tls: { acme: { email: "ops@example.com", directory } },
      redirectHttp: true,
      hstsSeconds: 0,
      proxyProtocol: false,
    },
  });

function viaTls(): Promise<{ body: string; fp: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port: https,
        path: "/",
        servername: NAME,
        headers: { host: NAME },
        ca: readFileSync(caddy.rootFile),
        agent: false,
      },
      (res) => {
        const fp = (res.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? "";
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ body, fp }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("ACME (Caddy's acme_server on this machine)", () => {
  it("keeps the site up over HTTP while issuance fails, then issues, stores 0600 and serves the certificate", async () => {
    const dead = `https://localhost:${await freePort()}/acme/local/directory`;
    await client.setRoute(await acmeRoute(dead));
    // No certificate: plain HTTP answers (no redirect to an HTTPS that cannot work), HTTPS refuses.
    await new Promise((r) => setTimeout(r, 1_000));
    const plain = await get("http://127.0.0.1:80/", { headers: { host: NAME } });
    expect(plain.body).toBe("acme-app");
    await expect(viaTls()).rejects.toThrow();
    // Retried with backoff (300 ms, 600 ms … here; a minute and up by default).
    await waitFor(
      () => /ACME: issuance failed.*"attempt":2/.test(readFileSync(join(home, "proxy", "proxy.log"), "utf8")),
      {
        what: "a second, backed-off attempt in " + join(home, "proxy", "proxy.log"),
        timeoutMs: 10_000,
      },
    );

    await client.setRoute(await acmeRoute(caddy.directory));
    const served = await waitFor(() => viaTls().catch(() => undefined), {
      what: "an ACME certificate",
      timeoutMs: 60_000,
    });
    expect(served.body).toBe("acme-app");
    // Now plain HTTP redirects, except the challenge path.
    const redirect = await get("http://127.0.0.1:80/x", { headers: { host: NAME } });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe(`https://${NAME}:${https}/x`);

    const acmeDir = join(home, "proxy", "acme");
    const accounts = readdirSync(join(acmeDir, "accounts"));
    const [certDir] = readdirSync(join(acmeDir, "certs"));
    for (const f of [
      join(acmeDir, "accounts", accounts[0]),
      join(acmeDir, "certs", certDir, "key.pem"),
      join(acmeDir, "certs", certDir, "cert.pem"),
    ])
      expect(statSync(f).mode & 0o777, f).toBe(0o600);
    // Renewal is planned two thirds into the lifetime (Caddy's certificates live 12 hours).
    const pem = readFileSync(join(acmeDir, "certs", certDir, "cert.pem"), "utf8");
    expect(renewAt(pem)).toBeGreaterThan(Date.now() + 60 * 60_000);
  }, 90_000);

  it("serves the stored certificate right after a restart, without a new issuance", async () => {
    const before = await viaTls();
    await client.stop(10_000);
    await client.ensureRunning();
    const after = await waitFor(() => viaTls().catch(() => undefined), {
      what: "HTTPS after restart",
      timeoutMs: 10_000,
    });
    expect(after.fp).toBe(before.fp);
  }, 30_000);

  it("with two worker processes: every worker serves the primary's certificate and answers HTTP-01", async () => {
    const before = await viaTls();
    await client.stop(10_000);
    client = new ProxyClient({ home, workers: 2 });
    await client.ensureRunning();
    expect((await client.health())?.workers).toHaveLength(2);
    // The stored certificate, read once by the primary, reaches both workers (new connections alternate).
    for (let i = 0; i < 4; i++)
      expect((await waitFor(() => viaTls().catch(() => undefined), { what: "HTTPS" })).fp).toBe(before.fp);
    // A new name: a new issuance by the primary's one ACME client; the CA's HTTP-01 requests
    // reach whichever worker the cluster picks, each has the tokens.
    const second = `acme2-${process.pid}.slipway.test`;
    const unhosts2 = hostsEntry(second);
    try {
      const r = await acmeRoute(caddy.directory);
      r.edge!.domains = [NAME, second];
      await client.setRoute(r);
      const renewed = await waitFor(
        async () => {
          const got = await Promise.all([viaTls(), viaTls()].map((p) => p.catch(() => undefined)));
          return got.every((g) => g && g.fp !== before.fp && g.fp === got[0]?.fp) ? got[0] : undefined;
        },
        { what: "the new certificate on both workers", timeoutMs: 60_000 },
      );
      expect(renewed.body).toBe("acme-app");
      const log = readFileSync(join(home, "proxy", "proxy.log"), "utf8");
      expect(log.match(/ACME: certificate issued/g)).toHaveLength(2);
    } finally {
      unhosts2();
    }
  }, 90_000);
});
