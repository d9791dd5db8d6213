/**
 * Local stand-ins for the services alerts go to: a real HTTP server per receiver (Slack,
 * webhook, Twilio, PagerDuty speak HTTP; the tests check the requests they get) and a real
 * SMTP server (smtp-server) that only accepts authenticated mail after STARTTLS.
 */
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import { SMTPServer } from "smtp-server";
import { freePort } from "./ports.js";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface HttpReceiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Answer with this status (default 200, or 202 for pagerduty-like receivers). */
  status: number;
  /** Stop listening: connections are refused until up() (the receiver is "down"). */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startHttpReceiver(
  opts: { status?: number; delayMs?: number } = {},
): Promise<HttpReceiver> {
  const port = await freePort();
  let server: Server | undefined;
  const r: HttpReceiver = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: [],
    status: opts.status ?? 200,
    async down() {
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((res) => s.close(() => res()));
    },
    async up() {
      if (server) return;
      const s = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          r.requests.push({
            method: req.method ?? "",
            path: req.url ?? "",
            headers: req.headers,
            body: Buffer.concat(chunks).toString("utf8"),
            at: Date.now(),
          });
          const answer = () => {
            res.writeHead(r.status, { "content-type": "application/json" });
            res.end(r.status < 300 ? '{"status":"success"}' : '{"error":"nope"}');
          };
          if (opts.delayMs) setTimeout(answer, opts.delayMs);
          else answer();
        });
      });
      await new Promise<void>((res, rej) => {
        s.once("error", rej);
        s.listen(port, "127.0.0.1", () => res());
      });
      server = s;
    },
    close() {
      return r.down();
    },
  };
  await r.up();
  return r;
}

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  secure: boolean;
  user?: string;
}

export interface SmtpReceiver {
  port: number;
  url: string;
  mails: ReceivedMail[];
  /** Refuse each message at the end of DATA with this SMTP reply code (e.g. 451, 554); 0 accepts. */
  rejectCode: number;
  /** Stop listening: connections are refused until up(). */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** An SMTP server on loopback that offers STARTTLS and refuses AUTH before it. */
export async function startSmtp(user: string, pass: string): Promise<SmtpReceiver> {
  const port = await freePort();
  let server: SMTPServer | undefined;
  const r: SmtpReceiver = {
    port,
    url: `smtp://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${port}`,
    mails: [],
    rejectCode: 0,
    async down() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((res) => s.close(() => res()));
    },
    async up() {
      if (server) return;
      const s = smtpServer(user, pass, r);
      await new Promise<void>((res, rej) => {
        s.once("error", rej);
        s.listen(port, "127.0.0.1", () => res());
      });
      server = s;
    },
    close() {
      return r.down();
    },
  };
  await r.up();
  return r;
}

function smtpServer(user: string, pass: string, r: SmtpReceiver): SMTPServer {
  return new SMTPServer({
    authMethods: ["PLAIN", "LOGIN"],
    allowInsecureAuth: false,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === pass) cb(null, { user: auth.username });
      else cb(new Error("invalid credentials"));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        if (r.rejectCode) {
          cb(Object.assign(new Error("message refused"), { responseCode: r.rejectCode }));
          return;
        }
        r.mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((a) => a.address),
          raw: Buffer.concat(chunks).toString("utf8"),
          secure: session.secure,
          user: typeof session.user === "string" ? session.user : undefined,
        });
        cb();
      });
    },
  });
}
