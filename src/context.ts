// Wires Chartroom's parts together from the config: the store, the license
// keys and verifier, the services and the background loops. `app.ts` turns
// a context into HTTP routes; the CLI uses the same context without HTTP.
import type { FastifyBaseLogger } from "fastify";
import type { Config } from "./config.js";
import { LicenseKeyring, ensureDevKeys, loadSigningKey, type SigningKey } from "./licensing/license-keys.js";
import { LicenseVerifier } from "./licensing/verify-license.js";
import { SpecKeyring, ensureDevSpecKey, loadSpecSigningKey } from "./licensing/spec-key.js";
import { createStore, type Store } from "./repositories/store.js";
import { applyChannels } from "./services/apply-channels.js";
import { auditService } from "./services/audit-service.js";
import { catalogService } from "./services/catalog-service.js";
import { fleetRecorder } from "./services/fleet-recorder.js";
import { fleetService } from "./services/fleet-service.js";
import { freezeService } from "./services/freeze-service.js";
import { licenseService } from "./services/license-service.js";
import { readinessService } from "./services/readiness.js";
import { reportService } from "./services/report-service.js";
import { revocationSet } from "./services/revocations.js";
import { pollGate } from "./services/poll-gate.js";
import { createRateLimits } from "./services/rate-limits.js";
import { specService } from "./services/spec-service.js";
import { installFacts } from "./services/install-facts.js";
import { specSignatures } from "./services/spec-signatures.js";
import { bundleService, type SteppingStones } from "./services/bundle-service.js";
import { chartFetcher } from "./services/chart-fetcher.js";
import { readRegistryAuths } from "./services/registry-auth.js";
import { resolveService } from "./services/resolve-service.js";
import { rolloutService } from "./services/rollout-service.js";
import { rolloutScheduler } from "./services/rollout-scheduler.js";
import { gateEvaluator } from "./services/gate-evaluator.js";
import { stateWatcher } from "./services/state-watcher.js";
import { webhookDispatcher } from "./services/webhook-dispatcher.js";
import { webhookService } from "./services/webhook-service.js";
import { stateListener } from "./db/state-listener.js";
import { readMigrations } from "./db/migrate.js";
import { createMetrics } from "./metrics.js";
import { ANONYMOUS_SUB } from "./licensing/anonymous.js";

export interface AdminKeys {
  /** HS256 secret (ADMIN_JWT_SECRET, or the development secret). */
  secret?: string | undefined;
  /** JWKS file of an identity provider (ADMIN_JWKS_FILE). */
  jwksFile?: string | undefined;
}

export function resolveKeys(config: Config, log: Pick<FastifyBaseLogger, "warn">) {
  let signingKeyFile = config.LICENSE_SIGNING_KEY_FILE;
  let adminSecret = config.ADMIN_JWT_SECRET;
  if (config.devKeys) {
    const dev = ensureDevKeys(config.DATA_DIR);
    signingKeyFile = dev.signingKeyFile;
    adminSecret = dev.adminSecret;
    log.warn(
      { keys: `${config.DATA_DIR}/keys`, created: dev.created },
      "DEVELOPMENT KEYS IN USE: no license or admin keys are configured, so Chartroom generated its own under DATA_DIR/keys. Set LICENSE_JWKS_FILE / LICENSE_SIGNING_KEY_FILE and ADMIN_JWT_SECRET / ADMIN_JWKS_FILE before production.",
    );
  }
  const signingKey: SigningKey | undefined = signingKeyFile ? loadSigningKey(signingKeyFile) : undefined;
  const admin: AdminKeys = { secret: adminSecret, jwksFile: config.ADMIN_JWKS_FILE };
  return { signingKey, admin };
}

/**
 * The spec keys (docs/api.md §11): SPEC_SIGNING_KEY_FILE signs, or a
 * development key under DATA_DIR/keys, announced at every start; SPEC_JWKS_FILE
 * lists further public keys. The license signing key is refused here: one
 * key, one purpose.
 */
export function resolveSpecKeys(config: Config, log: Pick<FastifyBaseLogger, "warn" | "info" | "error">, licenseKey?: SigningKey): SpecKeyring {
  let file = config.SPEC_SIGNING_KEY_FILE;
  if (file === undefined) {
    const dev = ensureDevSpecKey(config.DATA_DIR);
    file = dev.file;
    log.warn(
      { key: dev.file, created: dev.created },
      "DEVELOPMENT SPEC KEY IN USE: SPEC_SIGNING_KEY_FILE is not set, so spec answers are signed with a key Chartroom generated under DATA_DIR/keys (each replica its own). Set SPEC_SIGNING_KEY_FILE before production.",
    );
  }
  const signingKey = loadSpecSigningKey(file);
  if (licenseKey && licenseKey.kid === signingKey.kid) {
    throw new Error(`spec signing key ${file}: is the license signing key; give spec answers a key of their own (openssl genpkey -algorithm ed25519)`);
  }
  return new SpecKeyring({ signingKey, jwksFile: config.SPEC_JWKS_FILE, log });
}

/**
 * Counts events; answers the count since the last answer once per `ms`
 * (0 in between): one log line for a burst, with how many it stands for.
 */
function throttledCount(ms: number): () => number {
  let count = 0;
  let at = 0;
  return () => {
    count++;
    const now = Date.now();
    if (now - at < ms) return 0;
    at = now;
    const n = count;
    count = 0;
    return n;
  };
}

export async function createContext(config: Config, log: FastifyBaseLogger, opts: { store?: Store; specKeys?: SpecKeyring; steppingStones?: SteppingStones } = {}) {
  const store = opts.store ?? (await createStore(config.DATABASE_URL));
  const metrics = createMetrics();
  const { signingKey, admin } = resolveKeys(config, log);
  const keyring = new LicenseKeyring({
    ...(config.LICENSE_JWKS_FILE ? { jwksFile: config.LICENSE_JWKS_FILE } : {}),
    ...(signingKey ? { signingKey } : {}),
    log,
  });
  const specKeys = opts.specKeys ?? resolveSpecKeys(config, log, signingKey);
  const signatures = specSignatures(specKeys.signer);
  const verifier = new LicenseVerifier({
    keyring,
    defaultChannel: config.LICENSE_DEFAULT_CHANNEL,
    cacheSize: config.LICENSE_CACHE_SIZE,
    ...(config.LICENSE_ISSUER ? { issuer: config.LICENSE_ISSUER } : {}),
    ...(config.LICENSE_AUDIENCE ? { audience: config.LICENSE_AUDIENCE } : {}),
  });
  const specs = specService(store, {
    // What this replica served and has not written yet counts too (the recorder is made below; asked only at polls).
    installs: installFacts(store, (sub) => fleet.recentOf(sub)),
    recent: (sub) => fleet.recentOf(sub),
    soakMs: config.STEPPING_STONE_SOAK,
  });
  const revocations = revocationSet(() => store.licenses.allRevokedJtis());
  const catalog = catalogService(store, { onChange: () => specs.invalidate(), onMoved: (action) => metrics.promotions.inc({ action }), denyPrivate: config.OUTBOUND_DENY_PRIVATE });
  const declarative = applyChannels(store, catalog, () => specs.invalidate());
  const gates = gateEvaluator({
    reports: store.reports,
    intervalMs: config.GATE_INTERVAL_MS,
    denyPrivate: config.OUTBOUND_DENY_PRIVATE,
    onEvaluated: (kind, outcome) => metrics.gateEvaluations.inc({ kind, outcome }),
  });
  const rollouts = rolloutService(store, {
    onChange: () => specs.invalidate(),
    onMoved: (action) => metrics.promotions.inc({ action }),
    gates,
    onGateError: (err, rollout) => log.warn({ err, rollout }, "gate evaluation failed; the next tick tries again"),
  });
  const scheduler = rolloutScheduler({
    intervalMs: config.ROLLOUT_TICK_MS,
    progressDue: () => rollouts.progressDue(),
    onProgress: (changed) => {
      for (const r of changed) log.info({ rollout: r.id, state: r.state, step: r.step + 1 }, r.state === "completed" ? "rollout completed: the channel is at its target" : r.state === "halted" ? "rollout halted: a gate failed" : r.state === "aborted" ? "rollout aborted: a gate failed (onFailure rollback)" : "rollout step began");
    },
    onError: (err) => log.warn({ err }, "rollout progression failed; the next tick tries again"),
  });
  const licenses = licenseService(store, {
    signingKey,
    issuer: config.LICENSE_ISSUER,
    audience: config.LICENSE_AUDIENCE,
    onChange: async (change) => {
      if (change.revoked) revocations.add(change.revoked);
      if (change.overridesChanged) await specs.loadOverrides();
    },
  });
  // Redis outage lines: one per 10 s at most, with the count since the last
  // (an outage fails every check, and ioredis reports every reconnect).
  const skipped = throttledCount(10_000);
  const connectionErrors = throttledCount(10_000);
  const limits = await createRateLimits({
    ipPerMinute: config.RATE_LIMIT_IP_PER_MINUTE,
    licensePerMinute: config.RATE_LIMIT_LICENSE_PER_MINUTE,
    adminPerMinute: config.RATE_LIMIT_ADMIN_PER_MINUTE,
    redisUrl: config.REDIS_URL,
    onRefused: (limit) => metrics.rateLimited.labels(limit).inc(),
    onStoreError: (limit, err) => {
      metrics.rateLimitStoreErrors.labels(limit).inc();
      const failedChecks = skipped();
      if (failedChecks) log.warn({ limit, err: err.message, failedChecks }, "rate-limit store (Redis) failed; requests let through unlimited");
    },
    onRedisError: (err) => {
      const errors = connectionErrors();
      if (errors) log.warn({ err: err.message, errors }, "rate-limit store (Redis) connection error; limits are skipped while it is down");
    },
    onStoreState: (up, err) => {
      if (up) log.info("rate-limit store (Redis) answers; limits are enforced");
      else log.warn({ err: err?.message }, "rate-limit store (Redis) stopped answering; limits are skipped (requests go through unlimited) until it answers again");
    },
  });
  const gate = pollGate({
    verifier,
    revocations,
    metrics,
    ipLimit: limits.ip,
    licenseLimit: limits.license,
    revokedLimit: limits.revoked,
    anonymousChannel: config.ANONYMOUS_CHANNEL,
  });
  const fleet = fleetRecorder({
    write: (batch) => store.fleet.recordMany(batch),
    onError: (err, sub) => log.warn({ err, sub }, "fleet record not written; will retry"),
    // One licensee's row the database will not store (the rest of its batch was written).
    onRefused: (err, summary) => {
      metrics.fleetRowsRefused.inc();
      log.error({ err, sub: summary.sub, channel: summary.channel, polls: summary.polls }, "fleet record refused by the database; these polls are not recorded");
    },
  });
  /** Health as the probes and the operator path see it. */
  const health = {
    /** The first load (migrations, first boot, caches) has succeeded. */
    loaded: false,
    /** The last database check failed: answers come from cached data. */
    databaseDown: false,
  };
  /**
   * While the database refuses writes, each state check tries one (so
   * chartroom_database_up comes back without a /readyz call); logged once
   * when writes start failing and once when they work again.
   */
  let writesRefused = false;
  async function writesChecked(): Promise<void> {
    // One probe at a time: a check while one runs shares it (src/repositories/store.ts).
    if (store.writeRefused() !== undefined) await store.probeWrite().catch(() => {});
    const refused = store.writeRefused();
    if ((refused !== undefined) === writesRefused) return;
    writesRefused = refused !== undefined;
    if (writesRefused) log.error({ err: refused }, "database refuses writes (disk full or read-only): not ready; reads are still served");
    else log.info("database stores writes again; ready");
  }
  const readiness = readinessService({ store, health, expectedMigrations: () => readMigrations(store.provider).map((m) => m.name) });
  const watcher = stateWatcher({
    intervalMs: config.STATE_CHECK_INTERVAL_MS,
    onHealth: (ok) => {
      if (!ok) metrics.dbErrors.inc();
      if (ok === health.databaseDown) log[ok ? "info" : "error"]({ databaseDown: !ok }, ok ? "database reachable again; serving fresh data" : "database unreachable; serving cached data (stale)");
      health.databaseDown = !ok;
      if (ok) void writesChecked();
    },
    versions: () => store.state.versions(),
    onChange: async (kind) => {
      if (kind === "catalog") specs.invalidate();
      if (kind === "licenses") await Promise.all([revocations.reload(), specs.loadOverrides()]);
      log.info({ kind }, "state changed elsewhere; caches reloaded");
    },
    onError: (err) => log.warn({ err }, "state version check failed"),
  });

  const listener =
    store.provider === "postgresql"
      ? stateListener({
          url: config.DATABASE_URL,
          onNotify: (kind, lagMs) => {
            if (lagMs !== undefined) metrics.notifyLag.observe(lagMs / 1000);
            log.debug({ kind, lagMs }, "state change notified");
            watcher.check().catch((err: unknown) => log.warn({ err }, "state check after notification failed"));
          },
          // After a (re)connect, catch up on anything missed meanwhile.
          onConnected: () => void watcher.check().catch(() => {}),
          onError: (err) => log.warn({ err }, "LISTEN connection lost; reconnecting (periodic checks continue)"),
        })
      : undefined;

  // Bundles (docs/api.md §11): the registry credentials are checked now (a bad file stops the
  // boot) and read again at each export; the stepping stones come from the upgrade paths (§8).
  const authFile = config.CHART_REGISTRY_AUTH_FILE;
  if (authFile) readRegistryAuths(authFile);
  const chartOptions = { denyPrivate: config.OUTBOUND_DENY_PRIVATE, maxBytes: config.BUNDLE_MAX_CHART_BYTES, timeoutMs: config.BUNDLE_FETCH_TIMEOUT_MS, plainHttpRegistries: config.CHART_PLAIN_HTTP_REGISTRIES };
  const bundles = bundleService({
    specs,
    charts: { fetch: (chart) => chartFetcher({ ...chartOptions, auths: authFile ? readRegistryAuths(authFile) : {} }).fetch(chart) },
    audit: store.audit,
    signer: specKeys.signer,
    signatureOf: (spec) => signatures.of(spec),
    // With an upgrade path (§8), spec.json is the licensee's next step (what its poll gets) and the
    // stepping stones are the rest of the way, in order, the target last.
    steppingStones: opts.steppingStones ?? (async (q) => {
      const { path } = await specs.explain(q.channel, q.sub);
      if (!path || path.state !== "stepping-stone") return [];
      const at = path.hops.findIndex((hop) => hop.id === q.release.id);
      return path.hops.slice(at + 1).map((hop) => ({ id: hop.id, version: hop.version }));
    }),
  });

  const fleetView = fleetService(store, { paths: specs });
  const freeze = freezeService(store);
  const reports = reportService(store, { onReported: (state) => metrics.reports.inc({ state }) });

  const webhooks = webhookService(store, { denyPrivate: config.OUTBOUND_DENY_PRIVATE });
  // Failed deliveries: one line per webhook per minute at most, with how many it stands for.
  const failureLines = new Map<string, () => number>();
  const dispatcher = webhookDispatcher({
    store,
    retry: { baseMs: config.WEBHOOK_RETRY_BASE_MS, maxMs: config.WEBHOOK_RETRY_MAX_MS, giveUpMs: config.WEBHOOK_GIVE_UP_MS },
    source: config.WEBHOOK_SOURCE,
    denyPrivate: config.OUTBOUND_DENY_PRIVATE,
    intervalMs: config.WEBHOOK_TICK_MS,
    onOutcome: (outcome) => metrics.webhookDeliveries.inc({ outcome }),
    onFailure: (f) => {
      let count = failureLines.get(f.webhook);
      if (!count) failureLines.set(f.webhook, (count = throttledCount(60_000)));
      const failures = count();
      if (f.gaveUp) log.error({ ...f }, "webhook delivery given up after a day of retries");
      else if (failures) log.warn({ ...f, failures }, "webhook delivery failed; retried with back-off");
    },
    onError: (err) => log.warn({ err }, "webhook dispatch failed; the next tick tries again"),
    onUnrecorded: (u) => log.error({ ...u }, "webhook delivery acknowledged but its acknowledgement could not be recorded; it will be sent again after its lease"),
  });
  metrics.bindSources({
    specStats: () => specs.stats(),
    licenseCacheStats: () => verifier.stats(),
    revokedCount: () => revocations.size,
    fleetDistribution: () => fleetView.distribution(),
    databaseUp: () => !health.databaseDown && store.writeRefused() === undefined,
    rateLimitStoreUp: () => limits.storeUp,
    activeRollouts: () => rollouts.activeSummary(),
    frozen: async () => (await freeze.status()).frozen,
    fleetHealth: () => reports.fleetHealth(),
    fleetPaths: () => fleetView.pathCounts(),

    webhookPending: () => store.webhooks.pendingCount(),
  });

  let stopKeyWatch: (() => void) | undefined;
  let stopSpecKeyWatch: (() => void) | undefined;

  /** Says at start whether anonymous polls will get a spec (they get the channel's 404 otherwise). */
  async function checkAnonymousChannel(channel: string): Promise<void> {
    try {
      const spec = await specs.channelSpec(channel, ANONYMOUS_SUB);
      log.info({ anonymousChannel: channel, version: spec.version }, "anonymous polls (no Authorization header) get this channel's spec");
    } catch (err) {
      const code = (err as { code?: string }).code;
      log.warn({ anonymousChannel: channel, code, err: (err as Error).message }, "ANONYMOUS_CHANNEL cannot be served: anonymous polls get a 404 until it exists and has a release");
    }
  }

  return {
    config,
    store,
    keyring,
    verifier,
    signingKey,
    /** The spec key that signs poll answers and bundles, and the spec keys published (docs/api.md §11). */
    specKeys,
    /** The X-Chartroom-Signature of a serialized spec, signed once per spec (the poll's and a bundle's spec.jws). */
    specSignatures: signatures,
    /** Air-gapped bundles (GET /bundles, chartroom bundle export). */
    bundles,
    admin,
    specs,
    revocations,
    catalog,
    declarative,
    /** Staged rollouts: controls, views and the progression the scheduler runs. */
    rollouts,
    scheduler,
    licenses,
    audit: auditService(store),
    /** What a licensee's poll gets now, and why (GET /resolve). */
    resolver: resolveService(specs, { defaultChannel: config.LICENSE_DEFAULT_CHANNEL, anonymousChannel: config.ANONYMOUS_CHANNEL }),
    /** The freeze (stop the line): read by every promotion in its transaction. */
    freeze,
    /** Webhooks (docs/api.md §10) and the loop that delivers their events. */
    webhooks,
    dispatcher,
    /** Records polls in the fleet. */
    fleet,
    /** Reads the fleet (admin API, metrics). */
    fleetView,
    /** Health reports from installations (POST /api/v1/operator/report). */
    reports,
    limits,
    gate,
    watcher,
    health,
    readiness,
    metrics,
    /** Loads what the hot path needs and starts the background loops. */
    async start(): Promise<void> {
      await Promise.all([revocations.reload(), specs.loadOverrides()]);
      await watcher.init();
      health.loaded = true;
      if (config.ANONYMOUS_CHANNEL) await checkAnonymousChannel(config.ANONYMOUS_CHANNEL);
      watcher.start();
      listener?.start();
      scheduler.start();
      dispatcher.start();
      fleet.start();
      if (config.LICENSE_JWKS_FILE) {
        // The file may have changed since createContext read it (a start that
        // waited for the database; a cluster worker, which gets SIGHUP only
        // once ready): read it again before watching from now on.
        if (keyring.reload()) verifier.retainTrustedKeys();
        stopKeyWatch = keyring.watch(() => {
          const dropped = verifier.retainTrustedKeys();
          log.info({ kids: keyring.kids(), droppedLicenses: dropped }, "license JWKS file changed; keys reloaded, cached licenses of removed keys dropped");
        });
      }
      if (config.SPEC_JWKS_FILE) {
        specKeys.reload();
        stopSpecKeyWatch = specKeys.watch();
      }
    },
    /** Re-reads the license JWKS file and the spec JWKS file (SIGHUP). */
    reloadKeys(): boolean {
      const ok = keyring.reload();
      if (ok) verifier.retainTrustedKeys();
      return specKeys.reload() && ok;
    },
    async stop(): Promise<void> {
      stopKeyWatch?.();
      stopSpecKeyWatch?.();
      watcher.stop();
      await scheduler.stop();
      await dispatcher.stop();
      await listener?.stop();
      await fleet.stop().catch((err: unknown) => log.warn({ err }, "fleet records not flushed at shutdown"));
      await limits.close();
      await store.close();
    },
  };
}
export type Context = Awaited<ReturnType<typeof createContext>>;
