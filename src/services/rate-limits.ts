// Rate limits (docs/api.md §1, §3): per client IP before authentication,
// per verified licensee on the operator path (per revoked license for the
// polls refused as revoked), per admin subject on the admin API. Each is a fixed window of one minute per key: in memory by default,
// shared through Redis when REDIS_URL is set (several replicas). A limit of
// 0 turns that limit off. A store that fails (Redis down or slow) never
// refuses a request: the limit is skipped, counted and logged. Once a Redis
// check has failed, checks are skipped at once (no request waits for a hung
// Redis again) until a background PING or a reconnect says it answers.
//
// Framework-free and built once in the composition root (src/context.ts);
// src/plugins/rate-limits.ts only adds the hooks, and the poll gate
// (src/services/poll-gate.ts) applies the IP and licensee limits to polls.
// Why hand-written rather than a library: docs/decisions.md #28.
import type { Redis } from "ioredis";
import { RateLimitedError } from "../errors.js";

const WINDOW_MS = 60_000;

/**
 * Keys one in-memory window holds: the client IPs (or admin subjects) seen
 * within the minute, and the licensees, which only a valid license can add.
 * Beyond the bound, new keys are not counted until the window ends: it holds
 * against any number of invented keys, and the next minute starts empty.
 */
export const WINDOW_KEYS = { ip: 200_000, admin: 200_000, license: 1_000_000 } as const;

/** `true`: allowed. A number: refused, retry after that many seconds. */
export type Verdict = true | number;

export interface Limiter {
  /** Counts one request for `key`: synchronous in memory, a promise with Redis. */
  take(key: string): Verdict | Promise<Verdict>;
}

/** The error a refused verdict becomes; the error handler sets Retry-After from it. */
export function rateLimitedError(seconds: number): Error & { retryAfter: number } {
  return Object.assign(new RateLimitedError(seconds), { retryAfter: seconds });
}

/**
 * Fixed-window counters in memory: one Map of counts per minute, replaced
 * when the minute ends. A counter is a Map entry (~20 bytes), which matters
 * with 100,000 licensees (docs/performance.md); no timer per key.
 */
export class FixedWindowCounter {
  #counts = new Map<string, number>();
  #windowEnds = 0;
  constructor(
    private readonly windowMs = WINDOW_MS,
    private readonly maxKeys: number = WINDOW_KEYS.license,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one hit for `key`: the count in this window and the ms until it ends. */
  incr(key: string): { current: number; ttlMs: number } {
    const t = this.now();
    if (t >= this.#windowEnds) {
      this.#counts = new Map();
      this.#windowEnds = t + this.windowMs;
    }
    const known = this.#counts.get(key);
    const current = (known ?? 0) + 1;
    if (known !== undefined || this.#counts.size < this.maxKeys) this.#counts.set(key, current);
    return { current, ttlMs: this.#windowEnds - t };
  }
}

/** One INCR per request; the first of a window sets its expiry. Answers {count, ms left}. */
const REDIS_INCR = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {current, ttl}`;

type RedisWithIncr = Redis & { chartroomIncr(key: string, windowMs: number): Promise<[number, number]> };

export interface RateLimitsOptions {
  ipPerMinute: number;
  licensePerMinute: number;
  adminPerMinute: number;
  redisUrl?: string | undefined;
  /** Counts refusals per limit (chartroom_rate_limited_total). */
  onRefused: (limit: LimitName) => void;
  /** A store error: the request was let through. */
  onStoreError: (limit: LimitName, err: Error) => void;
  /** Redis connection problems (logged, rate-limited by ioredis' reconnects). */
  onRedisError?: (err: Error) => void;
  /** Redis stopped answering (`up` false, with the error) or answers again. Transitions only. */
  onStoreState?: (up: boolean, err?: Error) => void;
}

export type LimitName = "ip" | "license" | "admin";

/** How long a Redis limit check may take before the request goes through unlimited. */
const REDIS_COMMAND_TIMEOUT_MS = 250;
/** While Redis is failing, how often a PING asks whether it answers again. */
const PROBE_INTERVAL_MS = 500;
/**
 * PINGs that time out in a row before the connection is dropped and made
 * again: a black-holed connection (a host gone without a reset) would
 * otherwise be kept until TCP gives up, many minutes later.
 */
const HUNG_PROBES_BEFORE_RECONNECT = 3;

/**
 * Whether Redis answers: down after a failed check or a closed connection,
 * up again after a successful PING (every PROBE_INTERVAL_MS while down) or
 * a completed reconnect. Down from the start until the first connection.
 */
function redisHealth(client: Redis, onState: (up: boolean, err?: Error) => void) {
  let failure: Error | null = new Error("not connected yet");
  let probe: NodeJS.Timeout | undefined;
  let hungProbes = 0;
  let closed = false;
  const up = () => {
    clearTimeout(probe);
    probe = undefined;
    hungProbes = 0;
    if (failure === null) return;
    failure = null;
    onState(true);
  };
  const scheduleProbe = () => {
    if (closed || probe) return;
    probe = setTimeout(() => {
      client.ping().then(up, (err: Error) => {
        probe = undefined;
        if (err.message === "Command timed out" && ++hungProbes >= HUNG_PROBES_BEFORE_RECONNECT) {
          hungProbes = 0;
          client.disconnect(true);
        }
        if (failure) scheduleProbe();
      });
    }, PROBE_INTERVAL_MS);
    probe.unref();
  };
  const down = (err: Error) => {
    if (closed) return;
    scheduleProbe();
    if (failure !== null) return;
    failure = err;
    onState(false, err);
  };
  client.on("ready", up);
  client.on("close", () => down(new Error("connection to Redis closed")));
  return {
    /** The error that made Redis count as down, or null while it answers. */
    get failure() {
      return failure;
    },
    down,
    close() {
      closed = true;
      clearTimeout(probe);
    },
  };
}

export async function createRateLimits(opts: RateLimitsOptions) {
  let redis: RedisWithIncr | undefined;
  let health: ReturnType<typeof redisHealth> | undefined;
  if (opts.redisUrl) {
    // Loaded only when used: ioredis alone adds ~20 MB and ~0.1 s at start.
    const { Redis: RedisClient } = await import("ioredis");
    // Fail open at once: no queue while disconnected, a short timeout per command.
    const client = new RedisClient(opts.redisUrl, {
      connectTimeout: 1000,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      lazyConnect: false,
    });
    client.defineCommand("chartroomIncr", { numberOfKeys: 1, lua: REDIS_INCR });
    client.on("error", (err: Error) => opts.onRedisError?.(err));
    redis = client as RedisWithIncr;
    health = redisHealth(client, (up, err) => opts.onStoreState?.(up, err));
  }

  /** `space`: the keys' namespace (the Redis key prefix, an in-memory counter of its own). */
  function limiter(name: LimitName, max: number, space: string = name): Limiter | null {
    if (max === 0) return null;
    const verdict = (current: number, ttlMs: number): Verdict => {
      if (current <= max) return true;
      opts.onRefused(name);
      return Math.max(1, Math.ceil(ttlMs / 1000));
    };
    if (redis && health) {
      const [r, h] = [redis, health];
      const prefix = `chartroom-rl-${space}:`;
      return {
        take(key) {
          // Known down: skipped at once, no wait.
          if (h.failure) {
            opts.onStoreError(name, h.failure);
            return true;
          }
          return r.chartroomIncr(prefix + key, WINDOW_MS).then(
            ([current, ttl]) => verdict(current, ttl),
            (err: Error) => {
              h.down(err);
              opts.onStoreError(name, err);
              return true;
            },
          );
        },
      };
    }
    const counter = new FixedWindowCounter(WINDOW_MS, WINDOW_KEYS[name]);
    return {
      take(key) {
        const { current, ttlMs } = counter.incr(key);
        return verdict(current, ttlMs);
      },
    };
  }

  return {
    ip: limiter("ip", opts.ipPerMinute),
    license: limiter("license", opts.licensePerMinute),
    /**
     * The licensee limit applied to the polls of a revoked license, per
     * license (jti): a flood with a leaked, revoked token ends in 429
     * without using up its licensee's budget (docs/decisions.md).
     */
    revoked: limiter("license", opts.licensePerMinute, "license-revoked"),
    admin: limiter("admin", opts.adminPerMinute),
    /** Whether the store answers (always true in memory). */
    get storeUp(): boolean {
      return !health?.failure;
    },
    async close(): Promise<void> {
      health?.close();
      // quit() is refused while disconnected (no offline queue): then stop reconnecting.
      await redis?.quit().catch(() => redis?.disconnect());
    },
  };
}
