/**
 * startRedis() with a password cannot PING to learn that its server is up, so a port taken
 * between freePort() and the server's bind goes unnoticed. Verify with AUTH + PING, and retry.
 */
import { pingRedis } from "../../src/health/redis.js";
import { startRedis, type RedisServer } from "../support/redis.js";

export async function startVerifiedRedis(password: string): Promise<RedisServer> {
  let lastError: unknown;
  for (let i = 0; i < 3; i++) {
    const server = await startRedis({ password });
    for (let j = 0; j < 20; j++) {
      try {
        await pingRedis(server.url, 1000);
        return server;
      } catch (e) {
        lastError = e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await server.stop();
  }
  throw new Error(`redis did not start: ${String(lastError)}`);
}
