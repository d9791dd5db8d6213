/**
 * The certificates of the HTTPS listeners, by domain, handed out per connection by SNI.
 * File certificates are polled and re-read when they change: a new secure context serves new
 * connections, open ones keep theirs, so a renewal never drops a connection. A change that does
 * not load (half-written file, key that does not match) keeps the previous certificate.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { createSecureContext } from "node:tls";
import type { SecureContext } from "node:tls";
import type { Logger } from "../logger.js";

/** How often certificate files are polled for changes (ms); SLIPWAY_PROXY_CERT_POLL_MS overrides. */
const pollMs = () => Number(process.env.SLIPWAY_PROXY_CERT_POLL_MS) || 2_000;

export interface LoadedCert {
  context: SecureContext;
  notAfter: Date;
  /** The leaf's SHA-256 fingerprint, to tell reloads apart in logs and tests. */
  fingerprint: string;
}

/** Build a secure context from PEM text; throws a readable message when it cannot. */
export function loadPem(certPem: string | Buffer, keyPem: string | Buffer, domains: string[]): LoadedCert {
  const text = certPem.toString();
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  if (!m) throw new Error("no PEM certificate in it");
  const leaf = new X509Certificate(m[0]);
  const uncovered = domains.filter((d) => leaf.checkHost(d) === undefined);
  if (uncovered.length)
    throw new Error(
      `the certificate (${leaf.subject.replace(/\n/g, ", ")}) does not cover ${uncovered.join(", ")}`,
    );
  const context = createSecureContext({ cert: certPem, key: keyPem, minVersion: "TLSv1.2" });
  return { context, notAfter: new Date(leaf.validTo), fingerprint: leaf.fingerprint256 };
}

interface Entry {
  domains: string[];
  cert?: LoadedCert;
  stop(): void;
}

export class CertStore {
  private readonly byRoute = new Map<string, Entry>();
  private readonly byDomain = new Map<string, Entry>();

  constructor(private readonly log: Logger) {}

  /**
   * The SNICallback of one HTTPS listener. A name it has no certificate for (an IP address, a
   * client without SNI, a typo) gets the certificate of one of the listener's domains, as nginx's
   * default server does: the client then sees a name mismatch, and the Host header still routes.
   */
  sniFor(domains: () => Iterable<string>) {
    return (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
      let cert = this.byDomain.get(servername.toLowerCase())?.cert;
      if (!cert) for (const d of domains()) if ((cert = this.byDomain.get(d)?.cert)) break;
      if (cert) cb(null, cert.context);
      else cb(new Error(`no certificate for ${servername}`));
    };
  }

  has(domain: string): boolean {
    return this.byDomain.get(domain)?.cert !== undefined;
  }

  get(domain: string): LoadedCert | undefined {
    return this.byDomain.get(domain)?.cert;
  }

  /** Certificates from files for a route; throws (nothing changed) when they do not load. */
  useFiles(route: string, domains: string[], certFile: string, keyFile: string): void {
    const read = () => loadPem(readFileSync(certFile), readFileSync(keyFile), domains);
    let first: LoadedCert;
    try {
      first = read();
    } catch (e) {
      throw new Error(
        `certificate ${certFile} / key ${keyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    const onChange = () => {
      try {
        const next = read();
        if (next.fingerprint === entry.cert?.fingerprint) return;
        entry.cert = next;
        this.log.info("certificate reloaded", {
          route,
          file: certFile,
          notAfter: next.notAfter.toISOString(),
        });
      } catch (e) {
        this.log.warn("changed certificate does not load; keeping the previous one", {
          route,
          file: certFile,
          error: (e as Error).message,
        });
      }
    };
    const interval = pollMs();
    watchFile(certFile, { interval, persistent: false }, onChange);
    watchFile(keyFile, { interval, persistent: false }, onChange);
    const entry: Entry = {
      domains,
      cert: first,
      stop: () => {
        unwatchFile(certFile, onChange);
        unwatchFile(keyFile, onChange);
      },
    };
    this.set(route, entry);
  }

  /** A route whose certificate is managed elsewhere (ACME): `put` fills it in. */
  useManaged(route: string, domains: string[], stop: () => void): void {
    const old = this.byRoute.get(route);
    this.set(route, { domains, cert: old?.cert, stop });
  }

  put(route: string, cert: LoadedCert): void {
    const e = this.byRoute.get(route);
    if (e) e.cert = cert;
  }

  release(route: string): void {
    const e = this.byRoute.get(route);
    if (!e) return;
    e.stop();
    this.byRoute.delete(route);
    for (const d of e.domains) if (this.byDomain.get(d) === e) this.byDomain.delete(d);
  }

  /** Expiry per domain, for metrics. */
  expiries(): { domain: string; notAfter: Date }[] {
    return [...this.byDomain].flatMap(([domain, e]) =>
      e.cert ? [{ domain, notAfter: e.cert.notAfter }] : [],
    );
  }

  close(): void {
    for (const k of [...this.byRoute.keys()]) this.release(k);
  }

  private set(route: string, entry: Entry): void {
    const old = this.byRoute.get(route);
    if (old && old !== entry) {
      old.stop();
      for (const d of old.domains) if (this.byDomain.get(d) === old) this.byDomain.delete(d);
    }
    this.byRoute.set(route, entry);
    for (const d of entry.domains) this.byDomain.set(d, entry);
  }
}
