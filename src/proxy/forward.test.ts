import { IncomingMessage } from "node:http";
import { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { upstreamHeaders } from "./forward.js";

function request(raw: string[]): IncomingMessage {
  const socket = new Socket();
  // A socket that never connected has no peer; give it the IPv4-mapped address of a client.
  Object.defineProperty(socket, "remoteAddress", { value: "::ffff:192.0.2.7" });
  const req = new IncomingMessage(socket);
  req.rawHeaders = raw;
  return req;
}

describe("upstreamHeaders", () => {
  it("drops hop-by-hop headers and those the Connection header names, keeps the rest in order", () => {
    const { headers } = upstreamHeaders(
      request([
        "Host",
        "app.example.com",
        "Connection",
        "keep-alive, X-Secret-Hop",
        "Keep-Alive",
        "timeout=5",
        "X-Secret-Hop",
        "1",
        "TE",
        "trailers",
        "Accept",
        "*/*",
        "X-Forwarded-Proto",
        "https",
        "X-Forwarded-Host",
        "spoofed",
      ]),
    );
    const names = headers.filter((_, i) => i % 2 === 0);
    expect(names).toEqual(["Host", "Accept", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"]);
    expect(headers[headers.indexOf("X-Forwarded-Host") + 1]).toBe("app.example.com");
    expect(headers[headers.indexOf("X-Forwarded-Proto") + 1]).toBe("http");
  });

  it("appends the client to every X-Forwarded-For it received", () => {
    const { headers } = upstreamHeaders(
      request(["X-Forwarded-For", "10.0.0.1", "x-forwarded-for", "10.0.0.2"]),
    );
    expect(headers.slice(0, 2)).toEqual(["X-Forwarded-For", "10.0.0.1, 10.0.0.2, 192.0.2.7"]);
  });

  it("tells whether a body follows and joins cookies as Node does", () => {
    expect(upstreamHeaders(request(["Content-Length", "0"])).hasBody).toBe(false);
    expect(upstreamHeaders(request(["Content-Length", "12"])).hasBody).toBe(true);
    expect(upstreamHeaders(request(["Transfer-Encoding", "chunked"])).hasBody).toBe(true);
    expect(upstreamHeaders(request([])).hasBody).toBe(false);
    expect(upstreamHeaders(request(["Cookie", "a=1", "cookie", "b=2"])).cookie).toBe("a=1; b=2");
  });
});
