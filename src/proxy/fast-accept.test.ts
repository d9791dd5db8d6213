import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { fastAccept, readsShared, setReader } from "./fast-accept.js";

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  // Half-open sockets (allowHalfOpen) would keep close() waiting.
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A loopback listener with fastAccept (or without); resolves with its port and accepted sockets. */
async function listen(fast: boolean): Promise<{ port: number; accepted: Socket[]; took: boolean }> {
  const accepted: Socket[] = [];
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    accepted.push(s);
    sockets.push(s);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const took = fast && fastAccept(server);
  return { port: (server.address() as { port: number }).port, accepted, took };
}

async function client(port: number): Promise<Socket> {
  const c = connect(port, "127.0.0.1");
  sockets.push(c);
  await once(c, "connect");
  return c;
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
};

describe("fastAccept", () => {
  it("builds accepted sockets that read through the shared buffer, with the server's options", async () => {
    const l = await listen(true);
    expect(l.took).toBe(true);
    const c = await client(l.port);
    await until(() => l.accepted.length === 1);
    const s = l.accepted[0];
    expect(readsShared(s)).toBe(true);
    expect(s.allowHalfOpen).toBe(true);
    c.destroy();
    const plain = await listen(false);
    const c2 = await client(plain.port);
    await until(() => plain.accepted.length === 1);
    expect(readsShared(plain.accepted[0])).toBe(false);
    c2.destroy();
  });

  it("without a reader, every read reaches 'data' as its own copy (none overwritten by the next read)", async () => {
    const l = await listen(true);
    const c = await client(l.port);
    await until(() => l.accepted.length === 1);
    const got: Buffer[] = [];
    l.accepted[0].on("data", (d: Buffer) => got.push(d));
    const sent = randomBytes(512 * 1024);
    for (let i = 0; i < sent.length; i += 16 * 1024) {
      c.write(sent.subarray(i, i + 16 * 1024));
      await new Promise((r) => setImmediate(r));
    }
    await until(() => got.reduce((n, b) => n + b.length, 0) === sent.length);
    expect(got.length).toBeGreaterThan(1);
    expect(Buffer.concat(got).equals(sent)).toBe(true);
    c.destroy();
  });

  it("a reader gets the reads; pause() stops them, resume() goes on; null hands them back to 'data'; 'end' still comes", async () => {
    const l = await listen(true);
    const c = await client(l.port);
    await until(() => l.accepted.length === 1);
    const s = l.accepted[0];
    let viaReader = "";
    let viaData = "";
    setReader(s, (chunk) => {
      viaReader += chunk.toString();
      return true;
    });
    s.on("data", (d: Buffer) => (viaData += d.toString()));
    const ended = once(s, "end");
    c.write("one,");
    await until(() => viaReader === "one,");
    s.pause();
    c.write("two,");
    await new Promise((r) => setTimeout(r, 100));
    expect(viaReader).toBe("one,");
    s.resume();
    await until(() => viaReader === "one,two,");
    setReader(s, null);
    c.end("three");
    await ended;
    expect(viaReader).toBe("one,two,");
    expect(viaData).toBe("three");
  });
});
