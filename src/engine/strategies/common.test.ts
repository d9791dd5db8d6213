import { describe, expect, it } from "vitest";
import { OperationFailed } from "../../errors.js";
import { rollout, type RolloutRequest, type RolloutState } from "./common.js";

const request = (name: string) =>
  ({ svc: { name }, old: [], record: async () => {} }) as unknown as RolloutRequest;

describe("rollout(): the state of what a failed rollout did travels with its error", () => {
  it("two parallel rollouts failing with one shared error each keep their own state (each is undone)", async () => {
    const shared = new OperationFailed("connect ECONNREFUSED 127.0.0.1:1");
    type Failed = OperationFailed & { rollout?: RolloutState };
    const fail = (name: string): Promise<Failed> =>
      rollout(request(name), async () => {
        throw shared;
      }).then(
        () => expect.fail(`${name} should fail`),
        (e: unknown) => e as Failed,
      );
    const [api, db] = await Promise.all([fail("api"), fail("db")]);
    expect([api.rollout?.service, db.rollout?.service]).toEqual(["api", "db"]);
    for (const e of [api, db]) {
      expect(e).toBeInstanceOf(OperationFailed);
      expect(e.message).toBe("connect ECONNREFUSED 127.0.0.1:1");
    }
  });
});
