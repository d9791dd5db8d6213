/** known_hosts markers: @revoked rejects a key, @cert-authority does not vouch for its own key. */
import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { knownHostTrusts } from "./hosts.js";

const KEY = randomBytes(32).toString("base64");
const OTHER = randomBytes(32).toString("base64");
const hashed = (name: string) => {
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
};

describe("knownHostTrusts", () => {
  it("trusts a listed key for its host", () => {
    expect(knownHostTrusts(`gpu-1 ssh-ed25519 ${KEY}`, "gpu-1", 22, KEY)).toBe(true);
    expect(knownHostTrusts(`[gpu-1]:2222,other ssh-ed25519 ${KEY}`, "gpu-1", 2222, KEY)).toBe(true);
  });

  it("a @revoked key is refused even where another line trusts it, whatever its host pattern", () => {
    for (const revoked of [
      `@revoked * ssh-ed25519 ${KEY}`,
      `@revoked gpu-1 ssh-ed25519 ${KEY}`,
      `@revoked ${hashed("x")} ssh-ed25519 ${KEY}`,
    ]) {
      expect(knownHostTrusts(`gpu-1 ssh-ed25519 ${KEY}\n${revoked}`, "gpu-1", 22, KEY), revoked).toBe(false);
      expect(
        knownHostTrusts(`${revoked}\n${hashed("gpu-1")} ssh-ed25519 ${KEY}`, "gpu-1", 22, KEY),
        revoked,
      ).toBe(false);
    }
    // Revoking another key leaves this one trusted.
    expect(
      knownHostTrusts(`gpu-1 ssh-ed25519 ${KEY}\n@revoked * ssh-ed25519 ${OTHER}`, "gpu-1", 22, KEY),
    ).toBe(true);
  });

  it("a @cert-authority line does not trust a host presenting the CA's key", () => {
    expect(knownHostTrusts(`@cert-authority gpu-1 ssh-ed25519 ${KEY}`, "gpu-1", 22, KEY)).toBe(false);
  });
});
