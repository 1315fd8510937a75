// The one place that reads the environment. `loadConfig()` parses it once
// with zod; everything else receives the typed result.
import { isIP } from "node:net";
import { z } from "zod";
import { CHANNEL_NAME } from "./domain/schemas.js";
import { parseBake } from "./domain/bake.js";

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .optional();

const channelSetting = z.string().regex(CHANNEL_NAME, "must be a channel name (^[a-z][a-z0-9-]{0,62}$)");

/** proxy-addr's names for address ranges, accepted in a TRUST_PROXY list. */
const PROXY_RANGE_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);

function isAddressOrCidr(entry: string): boolean {
  if (PROXY_RANGE_NAMES.has(entry)) return true;
  const [address = "", prefix, ...rest] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

/**
 * TRUST_PROXY (docs/decisions.md, decision 44):
 * false / 0 / empty: trust no proxy (the socket's address is the client's);
 * N: the N nearest hops are proxies, whatever their address; a comma list of
 * addresses and CIDRs: those are proxies. "true" (trust every hop) let any
 * client choose its address by writing X-Forwarded-For, so it is refused.
 */
function parseTrustProxy(raw: string, ctx: z.RefinementCtx): false | number | string[] {
  const v = raw.trim().toLowerCase();
  if (v === "" || v === "false" || v === "0") return false;
  if (v === "true") {
    ctx.addIssue({
      code: "custom",
      message:
        "true (trust every hop) is no longer accepted: any client could pick its own address, and escape the per-IP limit, by writing X-Forwarded-For. Set the number of proxies in front of Chartroom (usually 1) or their addresses/CIDRs (e.g. 10.0.0.0/8)",
    });
    return z.NEVER;
  }
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops > 10) ctx.addIssue({ code: "custom", message: "a hop count must be at most 10" });
    return hops;
  }
  const entries = raw.split(",").map((e) => e.trim());
  const bad = entries.filter((e) => !isAddressOrCidr(e));
  if (bad.length > 0) {
    ctx.addIssue({
      code: "custom",
      message: `must be false, a hop count (1, 2) or a comma-separated list of IP addresses and CIDRs; ${JSON.stringify(bad[0])} is none of these`,
    });
    return z.NEVER;
  }
  return entries;
}

const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

export const configSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    /** Unset: 127.0.0.1 while development keys are in use (a server for this machine only), else 0.0.0.0. */
    HOST: optionalString,
    DATABASE_URL: z
      .string()
      .default("file:./data/chartroom.db")
      .refine((v) => /^file:.+/.test(v) || /^postgres(ql)?:\/\/.+/.test(v), {
        message: "must be file:PATH (SQLite) or postgresql://… (PostgreSQL)",
      }),
    CHANNELS_DIR: z.string().min(1).default("./channels"),
    DATA_DIR: z.string().min(1).default("./data"),
    LOG_LEVEL: logLevel.default("info"),
    /** The operator path's own level: its per-request lines are noise at fleet scale. */
    OPERATOR_LOG_LEVEL: logLevel.default("warn"),
    LICENSE_JWKS_FILE: optionalString,
    LICENSE_SIGNING_KEY_FILE: optionalString,
    /** The Ed25519 key (PKCS#8 PEM) that signs spec answers and bundles (docs/api.md §11); unset: a development key under DATA_DIR/keys. */
    SPEC_SIGNING_KEY_FILE: optionalString,
    /** Further public spec keys published in /.well-known/jwks.json (rotation: the previous or the next key). */
    SPEC_JWKS_FILE: optionalString,
    LICENSE_ISSUER: optionalString,
    LICENSE_AUDIENCE: optionalString,
    LICENSE_DEFAULT_CHANNEL: channelSetting.default("stable"),
    /** What a poll with no Authorization header gets (unset: 401 LICENSE_MISSING; docs/api.md §1). */
    ANONYMOUS_CHANNEL: optionalString.pipe(channelSetting.optional()),
    LICENSE_CACHE_SIZE: z.coerce.number().int().min(100).max(10_000_000).default(200_000),
    ADMIN_JWT_SECRET: optionalString.pipe(
      z.string().min(32, "must be at least 32 characters").optional(),
    ),
    ADMIN_JWKS_FILE: optionalString,
    ADMIN_ISSUER: optionalString,
    ADMIN_AUDIENCE: z.string().min(1).default("chartroom-admin"),
    REDIS_URL: optionalString,
    BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
    TRUST_PROXY: z
      .string()
      .default("false")
      .transform(parseTrustProxy)
      .describe("which proxies' X-Forwarded-For to trust: a hop count or their addresses/CIDRs (per-IP limits then see client IPs)"),
    RATE_LIMIT_IP_PER_MINUTE: z.coerce.number().int().min(0).default(6000),
    RATE_LIMIT_LICENSE_PER_MINUTE: z.coerce.number().int().min(0).default(120),
    RATE_LIMIT_ADMIN_PER_MINUTE: z.coerce.number().int().min(0).default(600),
    STATE_CHECK_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
    /** How often each replica looks for rollout steps whose bake has passed (src/services/rollout-scheduler.ts). */
    ROLLOUT_TICK_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
    /** How long a stepping stone is served before a licensee moves on without a healthy report (docs/api.md §8): 30s, 15m, 1h, 2d. */
    STEPPING_STONE_SOAK: z
      .string()
      .trim()
      .default("1h")
      .refine((v) => parseBake(v) !== undefined, { message: "must be a duration such as 30s, 15m, 1h or 2d (at most 365d)" })
      .transform((v) => parseBake(v)!),
    /** How often a webhook or Prometheus gate of a rollout is asked, at most (src/services/gate-evaluator.ts); the reports gate is counted at every tick. */
    GATE_INTERVAL_MS: z.coerce.number().int().min(10).max(3_600_000).default(10_000),
    /** Refuse webhook (and later gate and chart-source) URLs on loopback, private and link-local addresses (docs/api.md §6). */
    OUTBOUND_DENY_PRIVATE: z
      .string()
      .trim()
      .toLowerCase()
      .default("false")
      .refine((v) => ["", "true", "false", "1", "0"].includes(v), { message: "must be true or false" })
      .transform((v) => v === "true" || v === "1"),
    /** How often each replica looks for webhook deliveries that are due (src/services/webhook-dispatcher.ts). */
    WEBHOOK_TICK_MS: z.coerce.number().int().min(20).max(60_000).default(1000),
    /** The first retry's back-off; each further one doubles it (with jitter) up to WEBHOOK_RETRY_MAX_MS. */
    WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(10_000),
    WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().min(10).max(86_400_000).default(3_600_000),
    /** How long a delivery is retried before it is given up (state failed): a day. */
    WEBHOOK_GIVE_UP_MS: z.coerce.number().int().min(100).max(7 * 86_400_000).default(86_400_000),
    /** The CloudEvents `source` of every event. */
    WEBHOOK_SOURCE: z.string().trim().min(1).max(200).default("/chartroom"),
    /** The most bytes read of one chart archive (or a Helm repository's index.yaml) for a bundle (docs/api.md §11). */
    BUNDLE_MAX_CHART_BYTES: z.coerce.number().int().min(1024).max(1024 * 1024 * 1024).default(64 * 1024 * 1024),
    /** Each request to a chart source's deadline, in ms. */
    BUNDLE_FETCH_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
    /** Credentials for chart sources: a Docker/Helm registry config (`{"auths": {"host": {"auth": …}}}`, as helm registry login writes). */
    CHART_REGISTRY_AUTH_FILE: optionalString,
    /** OCI registries (host[:port], comma-separated) reached over plain http://, as Helm's --plain-http. */
    CHART_PLAIN_HTTP_REGISTRIES: z
      .string()
      .default("")
      .transform((v) => v.split(",").map((h) => h.trim()).filter((h) => h !== ""))
      .refine((hosts) => hosts.every((h) => /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(h)), { message: "must be a comma-separated list of host[:port]" }),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
    /** Cluster mode: server processes sharing the port (src/cluster.ts); 1 = one process, no primary. */
    CHARTROOM_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  })
  .superRefine((c, ctx) => {
    if (c.ADMIN_JWT_SECRET && c.ADMIN_JWKS_FILE) {
      ctx.addIssue({ code: "custom", path: ["ADMIN_JWKS_FILE"], message: "set ADMIN_JWT_SECRET or ADMIN_JWKS_FILE, not both" });
    }
  });

export type Env = z.infer<typeof configSchema>;

export interface Config extends Omit<Env, "HOST"> {
  /** HOST, or its default: 127.0.0.1 with development keys, 0.0.0.0 with configured ones. */
  HOST: string;
  /** HOST was not set: the default above was chosen (the server says so when it listens). */
  hostDefaulted: boolean;
  databaseProvider: "sqlite" | "postgresql";
  /** True when no license or admin keys are configured: dev keys under DATA_DIR/keys. */
  devKeys: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
    this.name = "ConfigError";
  }
}

/** A URL's password never reaches a message: scheme://user:***@host. */
export function maskCredentials(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, "$1:***@");
}

/** Parses the environment; throws ConfigError with one line per bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.keys(configSchema.shape ?? {});
  const picked: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && (known.length === 0 || known.includes(k))) picked[k] = v;
  const parsed = configSchema.safeParse(picked);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = String(i.path[0] ?? "environment");
        const value = name in picked && !/SECRET|KEY/.test(name) ? ` (got ${JSON.stringify(maskCredentials(picked[name]!))})` : "";
        return `${name}: ${i.message}${value}`;
      }),
    );
  }
  const c = parsed.data;
  const devKeys = !c.LICENSE_JWKS_FILE && !c.LICENSE_SIGNING_KEY_FILE && !c.ADMIN_JWT_SECRET && !c.ADMIN_JWKS_FILE;
  return {
    ...c,
    // Development keys are a laptop's: loopback unless HOST says otherwise (README, docs/decisions.md).
    HOST: c.HOST ?? (devKeys ? "127.0.0.1" : "0.0.0.0"),
    hostDefaulted: c.HOST === undefined,
    databaseProvider: c.DATABASE_URL.startsWith("file:") ? "sqlite" : "postgresql",
    devKeys,
  };
}
