// Prometheus metrics (GET /metrics). One registry per app, so tests and
// several apps in one process never share counters. Hot-path counters are
// pre-bound to their labels: an increment is a field update, not a lookup.
import client from "prom-client";

export interface MetricsSources {
  specStats: () => { hits: number; misses: number; size: number; max: number };
  licenseCacheStats: () => { hits: number; misses: number; size: number; max: number };
  revokedCount: () => number;
  /** Licensees per channel and release last served ("none": no release), from the fleet table. */
  fleetDistribution: () => Promise<{ channel: string; release: string; licensees: number }[]>;
  databaseUp: () => boolean;
  rateLimitStoreUp: () => boolean;
  /** The active rollouts (docs/api.md §7), read at each scrape. */
  activeRollouts: () => Promise<{ channel: string; release: string; state: string; percent: number }[]>;
  /** Whether promotions are frozen now (read at each scrape). */
  frozen: () => Promise<boolean>;
  /** Licensees per channel, release and state of their newest health report (docs/api.md §9), from the reports table. */
  fleetHealth: () => Promise<{ channel: string; release: string; state: string; licensees: number }[]>;
  /** Licensees on a stepping stone and stuck (no upgrade path), per channel where a path applies (docs/api.md §8). */
  fleetPaths: () => Promise<{ channel: string; state: string; licensees: number }[]>;

  /** Webhook deliveries not yet acknowledged or given up (read at each scrape). */
  webhookPending: () => Promise<number>;
}

export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "chartroom_" });

  const requests = new RequestHistogram(
    "chartroom_http_request_duration_seconds",
    "HTTP requests by route and status, with their latency",
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  registry.registerMetric(requests as unknown as client.Metric);
  // "ok" and "anonymous" are counted on every poll: plain numbers, added to the counter when scraped.
  const everyPoll = { ok: 0, anonymous: 0 };
  const reported = { ok: 0, anonymous: 0 };
  const licenseVerifications = new client.Counter({
    name: "chartroom_license_verifications_total",
    help: "License checks on the operator path by outcome (ok, anonymous: no Authorization header and ANONYMOUS_CHANNEL set, or the error code)",
    labelNames: ["outcome"] as const,
    registers: [registry],
    collect() {
      for (const outcome of ["ok", "anonymous"] as const) {
        if (everyPoll[outcome] > reported[outcome]) this.inc({ outcome }, everyPoll[outcome] - reported[outcome]);
        reported[outcome] = everyPoll[outcome];
      }
    },
  });
  let anonymousAnswered = 0;
  new client.Counter({
    name: "chartroom_anonymous_polls_total",
    help: "Polls answered with the spec of ANONYMOUS_CHANNEL (no Authorization header); together in the fleet as one row, (anonymous)",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(anonymousAnswered);
    },
  });
  const promotions = new client.Counter({
    name: "chartroom_promotions_total",
    help: "Channel moves by action (promote, rollback)",
    labelNames: ["action"] as const,
    registers: [registry],
  });
  const notifyLag = new client.Histogram({
    name: "chartroom_notify_lag_seconds",
    help: "Time from a change's commit on one replica to its notification here",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const dbErrors = new client.Counter({ name: "chartroom_database_errors_total", help: "Database calls that failed because the database was unreachable", registers: [registry] });
  const staleServes = new client.Counter({ name: "chartroom_stale_responses_total", help: "Operator answers served from cache while the database was unreachable", registers: [registry] });
  const rateLimited = new client.Counter({ name: "chartroom_rate_limited_total", help: "Requests refused with 429, by limit", labelNames: ["limit"] as const, registers: [registry] });
  const fleetRowsRefused = new client.Counter({ name: "chartroom_fleet_records_refused_total", help: "Licensees' fleet records the database refused on their own (given up and logged; the rest of their batch was written)", registers: [registry] });
  const reports = new client.Counter({ name: "chartroom_reports_total", help: "Health reports stored (POST /api/v1/operator/report), by state", labelNames: ["state"] as const, registers: [registry] });
  const rateLimitStoreErrors = new client.Counter({ name: "chartroom_rate_limit_store_errors_total", help: "Limit checks the shared store (Redis) could not answer; those requests went through unlimited", labelNames: ["limit"] as const, registers: [registry] });

  const webhookDeliveries = new client.Counter({
    name: "chartroom_webhook_deliveries_total",
    help: "Webhook delivery attempts by outcome (delivered: a 2xx; retry: failed, tried again with back-off; failed: given up after a day)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  // Every outcome from the start, at 0: an alert on increase(…{outcome="failed"})
  // (deploy/monitoring/alerts.yaml) sees the first failure, not only the second.
  for (const outcome of ["delivered", "retry", "failed"] as const) webhookDeliveries.inc({ outcome }, 0);

  const gateEvaluations = new client.Counter({
    name: "chartroom_rollout_gate_evaluations_total",
    help: "Evaluations of rollouts' health gates (docs/api.md §9) by kind (reports, webhook, prometheus) and outcome (pending, pass, fail, inconclusive)",
    labelNames: ["kind", "outcome"] as const,
    registers: [registry],
  });

  const okVerification = {
    inc(): void {
      everyPoll.ok++;
    },
  };
  const anonymousVerification = {
    inc(): void {
      everyPoll.anonymous++;
    },
  };
  const anonymousPolls = {
    inc(): void {
      anonymousAnswered++;
    },
  };

  function bindSources(src: MetricsSources): void {
    new client.Counter({
      name: "chartroom_spec_cache_hits_total",
      help: "Spec lookups answered from the serialized-spec cache",
      registers: [registry],
      collect() {
        this.reset();
        this.inc(src.specStats().hits);
      },
    });
    new client.Counter({
      name: "chartroom_spec_cache_misses_total",
      help: "Spec lookups that had to load from the database",
      registers: [registry],
      collect() {
        this.reset();
        this.inc(src.specStats().misses);
      },
    });
    new client.Gauge({
      name: "chartroom_cache_entries",
      help: "Entries held by each bounded cache, and its bound",
      labelNames: ["cache", "kind"] as const,
      registers: [registry],
      collect() {
        const spec = src.specStats();
        const lic = src.licenseCacheStats();
        this.set({ cache: "spec", kind: "size" }, spec.size);
        this.set({ cache: "spec", kind: "max" }, spec.max);
        this.set({ cache: "license", kind: "size" }, lic.size);
        this.set({ cache: "license", kind: "max" }, lic.max);
      },
    });
    new client.Counter({
      name: "chartroom_license_cache_hits_total",
      help: "License verifications answered from the verified-token cache (no signature check)",
      registers: [registry],
      collect() {
        this.reset();
        this.inc(src.licenseCacheStats().hits);
      },
    });
    // `aggregator`: how cluster mode (src/cluster.ts) combines the workers'
    // values; the default is the sum, right for counters and cache sizes,
    // wrong for figures every worker reads from the same database.
    new client.Gauge({ name: "chartroom_revoked_licenses", help: "Revoked license ids held in memory", registers: [registry], aggregator: "max", collect() { this.set(src.revokedCount()); } });
    new client.Gauge({ name: "chartroom_rate_limit_store_up", help: "1 while the rate-limit store answers (always with the in-memory store); 0 while Redis fails and limits are skipped", registers: [registry], aggregator: "min", collect() { this.set(src.rateLimitStoreUp() ? 1 : 0); } });
    new client.Gauge({ name: "chartroom_database_up", help: "1 when the last database check succeeded and the last write was stored (in cluster mode: on every worker)", registers: [registry], aggregator: "min", collect() { this.set(src.databaseUp() ? 1 : 0); } });
    new client.Gauge({
      name: "chartroom_rollout_percent",
      help: "The current step's percent of each active rollout (progressing, paused, halted), by channel, target release and state",
      labelNames: ["channel", "release", "state"] as const,
      registers: [registry],
      aggregator: "max",
      async collect() {
        // The last figures stay when the database cannot be read.
        const rows = await src.activeRollouts().catch(() => undefined);
        if (!rows) return;
        this.reset();
        for (const r of rows) this.set({ channel: r.channel, release: r.release, state: r.state }, r.percent);
      },
    });
    new client.Gauge({
      name: "chartroom_promotions_frozen",
      help: "1 while promotions are frozen (stop the line, docs/api.md §7)",
      registers: [registry],
      aggregator: "max",
      async collect() {
        const frozen = await src.frozen().catch(() => undefined);
        if (frozen !== undefined) this.set(frozen ? 1 : 0);
      },
    });
    new client.Gauge({
      name: "chartroom_fleet_health",
      help: "Licensees by channel, release and state of their newest health report (docs/api.md §9)",
      labelNames: ["channel", "release", "state"] as const,
      registers: [registry],
      aggregator: "max",
      async collect() {
        // The last figures stay when the database cannot be read.
        const rows = await src.fleetHealth().catch(() => undefined);
        if (!rows) return;
        this.reset();
        for (const r of rows) this.set({ channel: r.channel, release: r.release, state: r.state }, r.licensees);
      },
    });
    new client.Gauge({
      name: "chartroom_fleet_paths",
      help: "Licensees on an upgrade path by channel and state: stepping-stone (served a stepping stone) or no-upgrade-path (stuck), docs/api.md §8; only channels where a path applies",
      labelNames: ["channel", "state"] as const,
      registers: [registry],
      aggregator: "max",
      async collect() {
        // The last figures stay when the database cannot be read.
        const rows = await src.fleetPaths().catch(() => undefined);
        if (!rows) return;
        this.reset();
        for (const r of rows) this.set({ channel: r.channel, state: r.state }, r.licensees);
      },
    });
    new client.Gauge({
      name: "chartroom_webhook_pending",
      help: "Webhook deliveries not yet acknowledged (2xx) or given up, every replica's (docs/api.md §10)",
      registers: [registry],
      aggregator: "max",
      async collect() {
        const n = await src.webhookPending().catch(() => undefined);
        if (n !== undefined) this.set(n);
      },
    });
    // The fleet, read once per scrape for both names: a scrape collects
    // every metric at once, so the second gauge joins the first one's query.
    let lastFleet: Awaited<ReturnType<MetricsSources["fleetDistribution"]>> = [];
    let reading: Promise<typeof lastFleet> | undefined;
    function readFleet(): Promise<typeof lastFleet> {
      // The last good figures stay when the database cannot be read.
      reading ??= src
        .fleetDistribution()
        .then((rows) => (lastFleet = rows), () => lastFleet)
        .finally(() => (reading = undefined));
      return reading;
    }
    for (const [name, help] of [
      ["chartroom_fleet_licensees", "Licensees in the fleet by channel and the release they were last served"],
      // Kept for existing dashboards and alerts (docs/decisions.md, "One name for the fleet"); same values.
      ["chartroom_instances", "Deprecated: the same as chartroom_fleet_licensees, which replaces it"],
    ] as const) {
      new client.Gauge({
        name,
        help,
        labelNames: ["channel", "release"] as const,
        registers: [registry],
        aggregator: "max",
        async collect() {
          const rows = await readFleet();
          this.reset();
          for (const r of rows) this.set({ channel: r.channel, release: r.release }, r.licensees);
        },
      });
    }
  }

  return { registry, requests, licenseVerifications, okVerification, anonymousVerification, anonymousPolls, promotions, notifyLag, dbErrors, staleServes, rateLimited, rateLimitStoreErrors, fleetRowsRefused, reports, webhookDeliveries, gateEvaluations, bindSources };
}
export type Metrics = ReturnType<typeof createMetrics>;

/** One label set's figures: cumulative-later bucket counts, sum and count. */
interface Series {
  labels: { method: string; route: string; status: string };
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * The request-duration histogram, observed on every request including every
 * poll. prom-client's Histogram validates and hashes the labels on each
 * observe (about 5 % of a warm poll in the profile, docs/performance.md);
 * here a label set is bound once and an observation is a bucket search and
 * three additions. It registers in prom-client's registry like any metric
 * (text format, cluster sums: src/cluster.ts) and exposes the same series
 * as prom-client's Histogram would (`_bucket{le}`, `_sum`, `_count`).
 */
export class RequestHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  #series = new Map<string, Series>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly upperBounds: number[],
  ) {}

  /** A recorder for one label set (the same series however often it is bound): call it with the elapsed seconds. */
  bind(method: string, route: string, status: string): (seconds: number) => void {
    const key = `${method} ${route} ${status}`;
    let series = this.#series.get(key);
    if (!series) {
      series = { labels: { method, route, status }, counts: new Float64Array(this.upperBounds.length), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    const s = series;
    const bounds = this.upperBounds;
    return (seconds) => {
      let i = 0;
      while (i < bounds.length && seconds > bounds[i]!) i++;
      if (i < bounds.length) s.counts[i]!++;
      s.sum += seconds;
      s.count++;
    };
  }

  /** prom-client's metric interface (Registry#metrics, AggregatorRegistry). */
  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.#series.values()) {
      let acc = 0;
      this.upperBounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { ...s.labels, le }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...s.labels, le: "+Inf" }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const s of this.#series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/**
 * Records requests of one route in chartroom_http_request_duration_seconds:
 * (method, status, elapsed ms). The label set of each (method, status) is
 * bound once and kept.
 */
export function requestObserver(metrics: Pick<Metrics, "requests">, route: string) {
  const bound = new Map<string, Map<number, (seconds: number) => void>>();
  return (method: string, status: number, elapsedMs: number): void => {
    let byStatus = bound.get(method);
    if (!byStatus) bound.set(method, (byStatus = new Map()));
    let observe = byStatus.get(status);
    if (!observe) {
      observe = metrics.requests.bind(method, route, String(status));
      byStatus.set(status, observe);
    }
    observe(elapsedMs / 1000);
  };
}
