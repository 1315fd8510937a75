// Whether the machine's Redis (127.0.0.1:6379) answers; tests that need it
// skip loudly without it, and fail in CI.
import { Redis } from "ioredis";

export const REDIS_URL = "redis://127.0.0.1:6379";

export async function redisReachable(): Promise<boolean> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0 });
  r.on("error", () => {});
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}
