/** sharedList: the environments list computed once for many concurrent viewers, kept briefly. */
import { describe, expect, it } from "vitest";
import { sharedList } from "./routes-web.js";

describe("sharedList", () => {
  it("shares one computation between concurrent calls and keeps it for maxAgeMs", async () => {
    let t = 0;
    let runs = 0;
    const list = sharedList(
      async () => ++runs,
      1000,
      () => t,
    );
    expect(await Promise.all([list(), list(), list()])).toEqual([1, 1, 1]);
    t = 999;
    expect(await list()).toBe(1);
    t = 1000;
    expect(await list()).toBe(2);
    expect(runs).toBe(2);
  });

  it("does not keep a failure", async () => {
    let fail = true;
    const list = sharedList(async () => {
      if (fail) throw new Error("store closed");
      return "ok";
    }, 60_000);
    await expect(list()).rejects.toThrow("store closed");
    fail = false;
    expect(await list()).toBe("ok");
  });
});
