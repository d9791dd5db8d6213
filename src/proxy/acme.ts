/**
 * Certificates from an ACME CA (RFC 8555, through acme-client): HTTP-01 challenges answered by
 * the proxy's own plain-HTTP listener, the account key and certificates stored 0600 under
 * <home>/proxy/acme, renewal once two thirds of the lifetime are gone (30 days before expiry
 * for Let's Encrypt's 90), and failures retried with exponential backoff. A failure never
 * touches what is served: the current certificate (if any) stays until a new one loads.
 */
import { createHash } from "node:crypto";
import { X509Certificate } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as acme from "acme-client";
import type { Logger } from "../logger.js";
import { loadPem, type LoadedCert } from "./certs.js";
import type { Route } from "./contract.js";

export const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";
/** First retry delay; doubles per failure up to MAX_RETRY_MS. SLIPWAY_ACME_RETRY_MS overrides (tests). */
const retryBaseMs = () => Number(process.env.SLIPWAY_ACME_RETRY_MS) || 60_000;
const MAX_RETRY_MS = 6 * 3_600_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

const sha = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16);

async function writePrivate(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** When to renew: two thirds into the certificate's lifetime. */
export function renewAt(certPem: string): number {
  const c = new X509Certificate(certPem);
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  return from + ((to - from) * 2) / 3;
}

class Managed {
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private busy = false;
  private readonly certDir: string;
  private readonly directory: string;
  private readonly email: string;

  constructor(
    private readonly mgr: AcmeManager,
    private readonly route: string,
    private readonly domains: string[],
    acmeCfg: { email: string; directory?: string },
  ) {
    this.directory = acmeCfg.directory ?? LETS_ENCRYPT;
    this.email = acmeCfg.email;
    this.certDir = join(mgr.dir, "certs", sha(`${this.directory} ${[...domains].sort().join(",")}`));
  }

  async start(): Promise<void> {
    try {
      const [cert, key] = await Promise.all([
        readFile(join(this.certDir, "cert.pem"), "utf8"),
        readFile(join(this.certDir, "key.pem"), "utf8"),
      ]);
      this.mgr.deliver(this.route, loadPem(cert, key, this.domains), { cert, key });
      this.schedule(renewAt(cert) - Date.now());
      return;
    } catch {
      // none stored yet (or unreadable): issue one
    }
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const wait = Math.max(0, ms);
    this.timer = setTimeout(
      () => void (wait > MAX_TIMER_MS ? this.schedule(wait - MAX_TIMER_MS) : this.issue()),
      Math.min(wait, MAX_TIMER_MS),
    );
    this.timer.unref();
  }

  private async issue(): Promise<void> {
    if (this.stopped || this.busy) return;
    this.busy = true;
    const log = this.mgr.log;
    try {
      log.info("ACME: requesting a certificate", {
        route: this.route,
        domains: this.domains.join(" "),
        directory: this.directory,
      });
      const client = new acme.Client({
        directoryUrl: this.directory,
        accountKey: await this.mgr.accountKey(this.directory, this.email),
      });
      const key = await acme.crypto.createPrivateEcdsaKey();
      const [, csr] = await acme.crypto.createCsr(
        { commonName: this.domains[0], altNames: this.domains },
        key,
      );
      const cert = await client.auto({
        csr,
        email: this.email,
        termsOfServiceAgreed: true,
        challengePriority: ["http-01"],
        // The CA validates anyway; a local pre-check would fail behind NAT or a port-forward.
        skipChallengeVerification: true,
        // Resolves once every worker process can answer the token: only then may the CA ask.
        challengeCreateFn: (_authz, challenge, keyAuthorization) =>
          this.mgr.setChallenge(challenge.token, keyAuthorization),
        challengeRemoveFn: (_authz, challenge) => this.mgr.setChallenge(challenge.token, undefined),
      });
      const loaded = loadPem(cert, key, this.domains);
      await privateDir(this.certDir);
      await writePrivate(join(this.certDir, "key.pem"), key);
      await writePrivate(join(this.certDir, "cert.pem"), cert);
      if (this.stopped) return;
      this.mgr.deliver(this.route, loaded, { cert, key: key.toString() });
      this.failures = 0;
      log.info("ACME: certificate issued", { route: this.route, notAfter: loaded.notAfter.toISOString() });
      this.schedule(renewAt(cert) - Date.now());
    } catch (e) {
      this.failures++;
      const delay = Math.min(retryBaseMs() * 2 ** (this.failures - 1), MAX_RETRY_MS);
      log.error("ACME: issuance failed; the current certificate (if any) stays in use", {
        route: this.route,
        error: (e as Error).message,
        attempt: this.failures,
        retryInMs: delay,
      });
      this.schedule(delay);
    } finally {
      this.busy = false;
    }
  }
}

/**
 * acme-client retries a failed HTTP call itself (5 times, 5 s apart and growing) before the
 * issuance fails; SLIPWAY_ACME_HTTP_RETRIES lowers that (tests).
 */
function tuneHttpRetries(): void {
  const n = process.env.SLIPWAY_ACME_HTTP_RETRIES;
  const settings = (acme.axios.defaults as { acmeSettings?: { retryMaxAttempts: number } }).acmeSettings;
  if (n !== undefined && settings) settings.retryMaxAttempts = Number(n);
}

/** A certificate as PEM text, to hand to other processes. */
export interface CertPem {
  cert: string;
  key: string;
}

export class AcmeManager {
  readonly challenges = new Map<string, string>();
  private readonly managed = new Map<string, { sig: string; m: Managed }>();
  private readonly accounts = new Map<string, Promise<Buffer>>();

  /**
   * `onCert`: a certificate was loaded or issued for a route. `onChallenge`: a pending HTTP-01
   * token appeared (or went, `undefined`); with worker processes it resolves once every one of
   * them can answer it.
   */
  constructor(
    readonly dir: string,
    readonly log: Logger,
    private readonly onCert: (route: string, cert: LoadedCert, pem: CertPem) => void,
    private readonly onChallenge: (
      token: string,
      keyAuth: string | undefined,
    ) => Promise<void> = async () => {},
  ) {
    tuneHttpRetries();
  }

  challenge(token: string): string | undefined {
    return this.challenges.get(token);
  }

  async setChallenge(token: string, keyAuth: string | undefined): Promise<void> {
    if (keyAuth === undefined) this.challenges.delete(token);
    else this.challenges.set(token, keyAuth);
    await this.onChallenge(token, keyAuth);
  }

  deliver(route: string, cert: LoadedCert, pem: CertPem): void {
    this.onCert(route, cert, pem);
  }

  /** Manage the certificate of an ACME route; the returned function stops it. */
  manage(route: Route): () => void {
    const e = route.edge;
    const tls = e?.tls;
    if (!e || !tls || !("acme" in tls)) return () => {};
    const m = new Managed(this, route.key, e.domains, tls.acme);
    const entry = { sig: JSON.stringify([tls, e.domains]), m };
    this.managed.get(route.key)?.m.stop();
    this.managed.set(route.key, entry);
    void m.start();
    return () => {
      m.stop();
      if (this.managed.get(route.key) === entry) this.managed.delete(route.key);
    };
  }

  /** The account key for (directory, email): created once, kept 0600. */
  accountKey(directory: string, email: string): Promise<Buffer> {
    const file = join(this.dir, "accounts", `${sha(`${directory} ${email}`)}.key`);
    let p = this.accounts.get(file);
    if (!p) {
      p = (async () => {
        try {
          return await readFile(file);
        } catch {
          const key = await acme.crypto.createPrivateEcdsaKey();
          await privateDir(join(this.dir, "accounts"));
          await writePrivate(file, key);
          return key;
        }
      })();
      p.catch(() => this.accounts.delete(file));
      this.accounts.set(file, p);
    }
    return p;
  }

  close(): void {
    for (const { m } of this.managed.values()) m.stop();
    this.managed.clear();
  }
}
