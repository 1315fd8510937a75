// Rate limits: per client IP before authentication, per verified licensee
// on the operator path, per admin subject on the admin API. The counters are
// @fastify/rate-limit's own stores (a fixed window per key): in memory by
// default, shared through Redis when REDIS_URL is set (several replicas).
// Exceeded → 429 with Retry-After and code RATE_LIMITED. A limit of 0 turns
// that limit off. A store that fails (Redis down) never refuses a request.
//
// The stores are used directly rather than through the plugin's hooks: the
// in-memory store answers synchronously, so a poll pays no promise for its
// limit check (docs/performance.md); with Redis a check is one round trip.
import type { FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import LocalStore from "@fastify/rate-limit/store/LocalStore.js";
import RedisStore from "@fastify/rate-limit/store/RedisStore.js";
import type { Redis } from "ioredis";
import { RateLimitedError } from "../errors.js";
import type { Metrics } from "../metrics.js";

export interface RateLimitOptions {
  ipPerMinute: number;
  licensePerMinute: number;
  adminPerMinute: number;
  redisUrl?: string | undefined;
  metrics: Metrics;
}

const WINDOW_MS = 60_000;
/**
 * Keys each in-memory LRU store keeps (client IPs, admin subjects seen
 * within a minute). Beyond that a counter can be evicted and start again
 * from zero. Licensees are counted by LicenseeWindowStore instead.
 */
export const LOCAL_STORE_KEYS = 200_000;

/** Licensees whose polls one replica counts in one window (beyond it, new ones are not limited). */
export const LICENSEE_WINDOW_KEYS = 1_000_000;

type StoreCallback = (err: Error | null, res: { current: number; ttl: number } | null) => void;

/**
 * Fixed-window counters for verified licensees, in memory: one Map of
 * counts per minute, replaced when the minute ends. A counter is a Map entry
 * (~20 bytes), where the LRU store costs ~130 bytes per key, which matters
 * with 100,000 licensees (docs/performance.md). Only verified licensees get
 * here, so the keys cannot be invented by a client; the IP and admin limits
 * keep the LRU store, whose bound holds against any key.
 */
export class LicenseeWindowStore {
  #counts = new Map<string, number>();
  #windowEnds = 0;
  constructor(private readonly now: () => number = Date.now) {}

  incr(key: string, cb: StoreCallback, timeWindow: number): void {
    const t = this.now();
    if (t >= this.#windowEnds) {
      this.#counts = new Map();
      this.#windowEnds = t + timeWindow;
    }
    const known = this.#counts.get(key);
    const current = (known ?? 0) + 1;
    if (known !== undefined || this.#counts.size < LICENSEE_WINDOW_KEYS) this.#counts.set(key, current);
    cb(null, { current, ttl: this.#windowEnds - t });
  }
}

/** `true`: allowed. A number: refused, retry after that many seconds. */
export type Verdict = true | number;

export interface Limiter {
  /** Counts one request for `key`: synchronous in memory, a promise with Redis. */
  take(key: string): Verdict | Promise<Verdict>;
}

export type LimitHook = (req: FastifyRequest) => Promise<void>;

declare module "fastify" {
  interface FastifyInstance {
    limits: { ip: Limiter | null; license: Limiter | null; admin: Limiter | null };
  }
}

/** The error a refused verdict becomes; the error handler sets Retry-After from it. */
export function rateLimitedError(seconds: number): Error & { retryAfter: number } {
  return Object.assign(new RateLimitedError(seconds), { retryAfter: seconds });
}

/** Probes and metrics are never limited; the operator path applies the IP limit itself. */
const NOT_HERE = /^\/(healthz|readyz|metrics)(\?|$)|^\/api\/v1\/operator\//;

export default fp(
  async function rateLimits(app, opts: RateLimitOptions) {
    let redis: Redis | undefined;
    if (opts.redisUrl) {
      // Loaded only when used: ioredis alone adds ~20 MB and ~0.1 s at start.
      const { Redis: RedisClient } = await import("ioredis");
      const client = new RedisClient(opts.redisUrl, { connectTimeout: 1000, maxRetriesPerRequest: 1, lazyConnect: false });
      client.on("error", (err) => app.log.warn({ err: err.message }, "rate-limit store (Redis) error; limits are skipped while it is down"));
      app.addHook("onClose", async () => {
        await client.quit().catch(() => {});
      });
      redis = client;
    }

    function limiter(name: string, max: number): Limiter | null {
      if (max === 0) return null;
      const store: { incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void } = redis
        ? new RedisStore(false, false, redis, `chartroom-rl-${name}:`)
        : name === "license"
          ? new LicenseeWindowStore()
          : new LocalStore(false, false, LOCAL_STORE_KEYS);
      const refused = opts.metrics.rateLimited.labels(name);
      function verdict(err: Error | null, res: { current: number; ttl: number } | null): Verdict {
        if (err || !res || res.current <= max) return true;
        refused.inc();
        return Math.max(1, Math.ceil(res.ttl / 1000));
      }
      return {
        take(key) {
          let now: Verdict | undefined;
          let later: ((v: Verdict) => void) | undefined;
          store.incr(key, (err, res) => {
            const v = verdict(err, res);
            if (later) later(v);
            else now = v;
          }, WINDOW_MS, max);
          // The in-memory store has called back already; Redis answers later.
          return now ?? new Promise<Verdict>((resolve) => (later = resolve));
        },
      };
    }

    const limits = {
      ip: limiter("ip", opts.ipPerMinute),
      license: limiter("license", opts.licensePerMinute),
      admin: limiter("admin", opts.adminPerMinute),
    };
    if (limits.ip) {
      const perIp = limitHook(limits.ip, (req) => req.ip);
      app.addHook("onRequest", async (req) => {
        if (!NOT_HERE.test(req.url)) await perIp(req);
      });
    }
    app.decorate("limits", limits);
  },
  { name: "rate-limits" },
);

/** A hook applying `limiter` to the key a request maps to. */
export function limitHook(limiter: Limiter, keyOf: (req: FastifyRequest) => string): LimitHook {
  return async (req) => {
    const v = await limiter.take(keyOf(req));
    if (v !== true) throw rateLimitedError(v);
  };
}
