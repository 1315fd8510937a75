// Rate limits (@fastify/rate-limit's counters, our hooks): per client IP
// before authentication, per verified licensee on the operator path, per
// admin subject on the admin API. In memory by default; shared through
// Redis when REDIS_URL is set (several replicas). Exceeded → 429 with
// Retry-After and code RATE_LIMITED. A limit of 0 turns that limit off.
import type { FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import rateLimit from "@fastify/rate-limit";
import { Redis } from "ioredis";
import { RateLimitedError } from "../errors.js";
import type { Metrics } from "../metrics.js";

export interface RateLimitOptions {
  ipPerMinute: number;
  licensePerMinute: number;
  adminPerMinute: number;
  redisUrl?: string | undefined;
  metrics: Metrics;
}

export type LimitHook = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

declare module "fastify" {
  interface FastifyInstance {
    limits: { ip: LimitHook | null; license: LimitHook | null; admin: LimitHook | null };
  }
}

/**
 * Probes and metrics are never limited; the operator path applies the IP
 * limit itself, only where a request costs a signature check or a refusal.
 */
const NOT_HERE = /^\/(healthz|readyz|metrics)(\?|$)|^\/api\/v1\/operator\//;

export default fp(
  async function rateLimits(app, opts: RateLimitOptions) {
    let redis: Redis | undefined;
    if (opts.redisUrl) {
      redis = new Redis(opts.redisUrl, { connectTimeout: 1000, maxRetriesPerRequest: 1, lazyConnect: false });
      redis.on("error", (err) => app.log.warn({ err: err.message }, "rate-limit store (Redis) error; limits are skipped while it is down"));
      app.addHook("onClose", async () => {
        await redis?.quit().catch(() => {});
      });
    }
    await app.register(rateLimit, {
      global: false,
      skipOnError: true,
      nameSpace: "chartroom-rl-",
      // In-memory counters: one per client IP, licensee and admin subject seen
      // within a minute. The plugin's default (5,000) would evict counters and
      // stop limiting beyond 5,000 licensees a minute.
      cache: 200_000,
      ...(redis ? { redis } : {}),
    });

    function limiter(name: string, max: number, keyOf: (req: FastifyRequest) => string): LimitHook | null {
      if (max === 0) return null;
      const check = app.createRateLimit({ max, timeWindow: 60_000, keyGenerator: keyOf });
      const refused = opts.metrics.rateLimited.labels(name);
      return async (req, reply) => {
        const r = await check(req);
        if (r.isAllowed || !r.isExceeded) return;
        const seconds = Math.max(1, Math.ceil(r.ttl / 1000));
        reply.header("retry-after", String(seconds));
        refused.inc();
        throw new RateLimitedError(seconds);
      };
    }

    const ip = limiter("ip", opts.ipPerMinute, (req) => `ip:${req.ip}`);
    if (ip) {
      app.addHook("onRequest", async (req, reply) => {
        if (!NOT_HERE.test(req.url)) await ip(req, reply);
      });
    }
    app.decorate("limits", {
      ip,
      license: limiter("license", opts.licensePerMinute, (req) => `license:${req.license?.sub ?? "?"}`),
      admin: limiter("admin", opts.adminPerMinute, (req) => `admin:${req.user?.sub ?? "?"}`),
    });
  },
  { name: "rate-limits" },
);

