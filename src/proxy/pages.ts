/** The small pages the proxy answers itself with when no upstream can. */
import type { IncomingMessage, ServerResponse } from "node:http";

const TEXT: Record<number, [string, string]> = {
  502: ["Bad Gateway", "The service did not answer: no instance could be reached."],
  503: ["Service Unavailable", "No healthy instance of this service is available right now."],
  504: ["Gateway Timeout", "The service did not answer in time."],
  400: ["Bad Request", "The request could not be read."],
  404: ["Not Found", "No service is configured for this host name on this address."],
};

export function pageBody(status: number, route: string, html: boolean): string {
  const [title, text] = TEXT[status] ?? ["Error", "The proxy could not serve this request."];
  // `route` is a route key, or already a label ("host x.example.com on 0.0.0.0:80").
  const label = route.startsWith("host ") ? route : `route ${route}`;
  if (!html) return `${status} ${title}\n${text}\n(slipway proxy, ${label})\n`;
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>${status} ${title}</title></head>` +
    `<body style="font-family:sans-serif;margin:3em"><h1>${status} ${title}</h1><p>${text}</p>` +
    `<p style="color:#777">slipway proxy · ${esc(label)}</p></body></html>\n`
  );
}

export function sendPage(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  route: string,
  close: boolean,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const html = (req.headers.accept ?? "").includes("text/html");
  const body = pageBody(status, route, html);
  const headers: Record<string, string | number> = {
    "content-type": html ? "text/html; charset=utf-8" : "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  };
  if (status === 503) headers["retry-after"] = "1";
  if (close && req.httpVersionMajor !== 2) headers.connection = "close";
  res.writeHead(status, headers);
  res.end(req.method === "HEAD" ? undefined : body);
}

/** The same page on a raw socket (failed WebSocket upgrades). */
export function rawPage(status: number, route: string): string {
  const body = pageBody(status, route, false);
  const title = TEXT[status]?.[0] ?? "Error";
  return (
    `HTTP/1.1 ${status} ${title}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}
