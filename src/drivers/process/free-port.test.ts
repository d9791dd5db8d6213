import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freeLoopbackPort } from "./free-port.js";

const ephemeralLow = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0]);

describe("instance ports", () => {
  it("come from below the ephemeral range, are bindable, and are not handed out twice", async () => {
    const ports: number[] = [];
    for (let i = 0; i < 20; i++) ports.push(await freeLoopbackPort());
    expect(new Set(ports).size).toBe(20);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(30_000);
      expect(p).toBeLessThan(ephemeralLow);
    }
    // Really free: the instance can take it.
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(ports[0], "127.0.0.1", () => r()));
    await new Promise((r) => srv.close(r));
  });
});
