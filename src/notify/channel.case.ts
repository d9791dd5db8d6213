/**
 * The channel conformance suite: every Channel implementation runs it against a real local
 * receiver (test/notify/channel-conformance.test.ts). What the outbox relies on, whatever the
 * kind: a delivery reaches the receiver; a refused connection and a temporary refusal are
 * retryable, a permanent refusal is not; no secret reaches a detail or an error; the delivery
 * id is the idempotency key across attempts; multi-recipient channels skip recipients already
 * reached and record each one as they reach it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Channel, ChannelType, DeliveryContext } from "./channel.js";
import { DeliveryError } from "./channel.js";
import type { Notification } from "./types.js";

export type ReceiverMode = "ok" | "down" | "permanent" | "temporary";

export interface ChannelFixture {
  /** A channel of the kind under test, pointed at the fixture's receiver. */
  channel: Channel;
  /** The credentials written in the channel's configuration: secrets() must cover them. */
  credentials: string[];
  /** What the receiver accepted so far, one text (headers and body) per request or mail. */
  received(): string[];
  /** How the receiver answers from now on (refuses connections, a permanent or temporary refusal). */
  setMode(mode: ReceiverMode): Promise<void>;
  /** The idempotency key a received request carries, for channels that have one. */
  keyOf?(received: string): string | undefined;
  /** For channels with several recipients: all of them, and which one a request was for. */
  recipients?: { all: string[]; of(received: string): string | undefined };
  close(): Promise<void>;
}

let nextId = 1000;

export function conformanceNotification(status: "firing" | "resolved" = "firing"): Notification {
  const labels = {
    project: "shop",
    environment: "production",
    service: "api",
    event: "deploy.failed",
    severity: "critical",
  };
  const at = new Date().toISOString();
  return {
    id: nextId++,
    groupKey: "0:{}",
    status,
    groupLabels: { project: "shop", environment: "production" },
    commonLabels: labels,
    createdAt: at,
    alerts: [
      {
        status,
        labels,
        severity: "critical",
        message: "deploy of api failed: health check timed out",
        startsAt: at,
        ...(status === "resolved" ? { endsAt: at } : {}),
        count: 1,
        fingerprint: "f00d",
      },
    ],
  };
}

export function deliveryContext(
  deliveryId: number,
  attempt = 1,
  done: string[] = [],
): DeliveryContext & {
  marked: string[];
} {
  const set = new Set(done);
  const marked: string[] = [];
  return {
    deliveryId,
    attempt,
    done: set,
    marked,
    markDone(r) {
      set.add(r);
      marked.push(r);
    },
  };
}

async function sendError(channel: Channel, n: Notification, deliveryId: number): Promise<DeliveryError> {
  try {
    await channel.send(n, deliveryContext(deliveryId));
  } catch (e) {
    expect(e).toBeInstanceOf(DeliveryError);
    return e as DeliveryError;
  }
  throw new Error(`${channel.type}: send succeeded against a receiver that refuses`);
}

function expectNoSecret(text: string, secrets: string[]): void {
  for (const s of secrets) if (s.length >= 4) expect(text, `leaks "${s}"`).not.toContain(s);
}

export function runChannelConformance(type: ChannelType, make: () => Promise<ChannelFixture>): void {
  describe(`channel conformance: ${type}`, () => {
    let f: ChannelFixture;
    let secrets: string[];
    beforeAll(async () => {
      f = await make();
      secrets = [...f.channel.secrets(), ...f.credentials];
    });
    afterAll(async () => {
      await f?.channel.close?.();
      await f?.close();
    });

    it("names its type and covers every credential of its configuration in secrets()", () => {
      expect(f.channel.type).toBe(type);
      const listed = f.channel.secrets();
      for (const c of f.credentials) expect(listed.some((s) => s.includes(c))).toBe(true);
    });

    it("delivers a firing and a resolved notification; the detail holds no secret", async () => {
      await f.setMode("ok");
      const before = f.received().length;
      for (const status of ["firing", "resolved"] as const) {
        const res = await f.channel.send(conformanceNotification(status), deliveryContext(nextId++));
        expect(res.detail).toMatch(/\S/);
        expectNoSecret(res.detail, secrets);
      }
      const got = f.received().slice(before);
      expect(got.length).toBeGreaterThanOrEqual(2);
      expect(got.join("\n")).toMatch(/shop|production|api/);
    });

    it("a refused connection is retryable, and the error names no secret", async () => {
      await f.setMode("down");
      try {
        const e = await sendError(f.channel, conformanceNotification(), nextId++);
        expect(e.retryable).toBe(true);
        expectNoSecret(`${e.message} ${String(e.stack)}`, secrets);
      } finally {
        await f.setMode("ok");
      }
    });

    it("a temporary refusal is retryable; a permanent one stops retries", async () => {
      try {
        await f.setMode("temporary");
        const temp = await sendError(f.channel, conformanceNotification(), nextId++);
        expect(temp.retryable).toBe(true);
        expectNoSecret(temp.message, secrets);
        await f.setMode("permanent");
        const perm = await sendError(f.channel, conformanceNotification(), nextId++);
        expect(perm.retryable).toBe(false);
        expectNoSecret(perm.message, secrets);
      } finally {
        await f.setMode("ok");
      }
    });

    describeCapabilities(() => f);
  });
}

/** What only some channels have: an idempotency key, several recipients. */
function describeCapabilities(fx: () => ChannelFixture): void {
  it("keeps the delivery id as idempotency key across attempts", async (ctx) => {
    if (!fx().keyOf) return ctx.skip();
    await fx().setMode("ok");
    const before = fx().received().length;
    const n = conformanceNotification();
    await fx().channel.send(n, deliveryContext(77_001, 1));
    await fx().channel.send(n, deliveryContext(77_001, 2));
    await fx().channel.send(n, deliveryContext(77_002, 1));
    const keys = fx()
      .received()
      .slice(before)
      .map((r) => fx().keyOf?.(r));
    expect(keys[0]).toBeTruthy();
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[0]);
  });

  it("skips recipients an earlier attempt reached and records each one it reaches", async (ctx) => {
    const rcpt = fx().recipients;
    if (!rcpt || rcpt.all.length < 2) return ctx.skip();
    await fx().setMode("ok");
    const before = fx().received().length;
    const c = deliveryContext(nextId++, 2, [rcpt.all[0]]);
    await fx().channel.send(conformanceNotification(), c);
    const reached = fx()
      .received()
      .slice(before)
      .map((r) => rcpt.of(r));
    expect(reached).not.toContain(rcpt.all[0]);
    expect(reached.sort()).toEqual(rcpt.all.slice(1).sort());
    expect(c.marked.sort()).toEqual(rcpt.all.slice(1).sort());
  });
}
