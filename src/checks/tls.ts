/** `tls`: a certificate (PEM file or a live host:port) stays valid for at least `minDays`. */
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { connect } from "node:tls";
import { abortReason } from "../health/signal.js";
import { parseHostPort } from "../health/tcp.js";
import type { TlsCheckSpec } from "../spec/schema-checks.js";
import { failed, passed, type CheckOutcome, type CheckRun } from "./types.js";

const DAY = 86_400_000;

/** The first certificate of a PEM file (the leaf, in a chain file). */
export async function certificateFromFile(path: string): Promise<X509Certificate> {
  const text = await readFile(path, "utf8");
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  if (!m) throw new Error(`no PEM certificate in ${path}`);
  return new X509Certificate(m[0]);
}

/** The certificate a TLS server presents (not verified: this check is about expiry). */
export function certificateFromHost(
  host: string,
  port: number,
  servername: string | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ cert: X509Certificate; authorized: boolean; authorizationError?: string }> {
  return new Promise((res, rej) => {
    const sni = servername ?? (/^[\d.]+$|:/.test(host) ? undefined : host);
    const socket = connect({ host, port, servername: sni, rejectUnauthorized: false });
    const onAbort = () => {
      socket.destroy();
      rej(new Error(`TLS ${host}:${port}: ${abortReason(signal, timeoutMs)}`));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("secureConnect", () => {
      signal.removeEventListener("abort", onAbort);
      const cert = socket.getPeerX509Certificate();
      const authorized = socket.authorized;
      const authorizationError = socket.authorizationError ? String(socket.authorizationError) : undefined;
      socket.destroy();
      if (!cert) return rej(new Error(`TLS ${host}:${port}: the server sent no certificate`));
      res({ cert, authorized, ...(authorizationError ? { authorizationError } : {}) });
    });
    socket.once("error", (e: NodeJS.ErrnoException) => {
      signal.removeEventListener("abort", onAbort);
      rej(new Error(`TLS ${host}:${port}: ${e.code ?? e.message}`));
    });
  });
}

const subjectOf = (cert: X509Certificate) => {
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn ? `CN=${cn}` : cert.subject.replace(/\n/g, ", ");
};

export async function tlsCheck(spec: TlsCheckSpec, run: CheckRun, now = new Date()): Promise<CheckOutcome> {
  let cert: X509Certificate;
  let source: string;
  const extra: Record<string, unknown> = {};
  try {
    if (spec.file !== undefined) {
      source = resolve(run.ctx.cwd, spec.file);
      cert = await certificateFromFile(source);
    } else {
      const hp = parseHostPort(spec.host ?? "");
      if (!hp) return failed(`not a host:port address: "${spec.host}" (is the \${VAR} it comes from set?)`);
      source = `${spec.host}`;
      const r = await certificateFromHost(hp.host, hp.port, spec.servername, run.timeoutMs, run.signal);
      cert = r.cert;
      extra.trusted = r.authorized;
      if (r.authorizationError) extra.trustError = r.authorizationError;
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return failed(
      err.code === "ENOENT" ? `certificate file not found: ${err.path ?? spec.file}` : err.message,
    );
  }
  const notAfter = new Date(cert.validTo);
  const notBefore = new Date(cert.validFrom);
  const daysLeft = Math.floor((notAfter.getTime() - now.getTime()) / DAY);
  const subject = subjectOf(cert);
  const details = {
    source,
    subject,
    issuer: cert.issuer.replace(/\n/g, ", "),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft,
    minDays: spec.minDays,
    ...extra,
  };
  const head = `${subject} from ${source}: notAfter ${notAfter.toISOString()}`;
  if (notBefore > now) return failed(`${head}; not valid before ${notBefore.toISOString()}`, details);
  if (daysLeft < 0) return failed(`${head}; expired ${-daysLeft} day(s) ago`, details);
  if (daysLeft < spec.minDays) {
    return failed(`${head}; expires in ${daysLeft} day(s), needs at least ${spec.minDays}`, details);
  }
  return passed(`${head}; ${daysLeft} day(s) left (≥ ${spec.minDays})`, details);
}
