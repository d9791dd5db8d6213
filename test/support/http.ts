/** One HTTP request with the whole answer read: status, body as text, headers. */
import { request, type Agent, type IncomingHttpHeaders } from "node:http";

export interface Reply {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

export function httpRequest(
  url: string,
  opts: { agent?: Agent; method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent: opts.agent, method: opts.method ?? "GET", headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            headers: res.headers,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}
