// Evaluates the current step's gates of a rollout (docs/api.md §9), outside
// any database transaction: the report counts (every tick, a cheap count),
// the webhook and Prometheus calls (at most once per GATE_INTERVAL_MS per
// gate, the time of the last evaluation read from the stored results, so
// every replica and a restart agree). The rules are src/services/gate-rules.ts;
// src/services/rollout-service.ts writes the results in its guarded
// transaction and acts on the verdict.
import { DEFAULT_GATE_TIMEOUT_MS, parseGateTimeout } from "../domain/gate-spec.js";
import type { GateSpec } from "../domain/schemas.js";
import type { ReportsRepo } from "../repositories/reports-repo.js";
import { fillQuery, gateDue, nextResult, prometheusOutcome, reportsOutcome, webhookOutcome, type GateKind, type GateResult } from "./gate-rules.js";
import { gateHttp, type GateHttp } from "./gate-http.js";

export interface GateSubject {
  channel: string;
  release: { id: string; version: string };
  /** The rollout as a webhook gate receives it (POST body). */
  rollout: Record<string, unknown>;
}

export interface GateEvaluatorOptions {
  reports: Pick<ReportsRepo, "countsOn">;
  intervalMs: number;
  denyPrivate: boolean;
  http?: GateHttp;
  /** Each evaluation that was made, by kind and outcome (the metrics). */
  onEvaluated?: (kind: GateKind, outcome: GateResult["state"]) => void;
}

export function gateEvaluator(opts: GateEvaluatorOptions) {
  const http = opts.http ?? gateHttp;

  async function evaluateOne(g: GateSpec, index: number, s: GateSubject, prev: GateResult, at: Date): Promise<GateResult> {
    switch (g.kind) {
      case "reports": {
        const o = reportsOutcome(g, await opts.reports.countsOn(s.release.id, { channel: s.channel }));
        // Unchanged: the stored result stands (no write at every tick).
        if (o.state === prev.state && o.detail === prev.detail) return prev;
        return nextResult(prev, g.kind, o, at);
      }
      case "webhook": {
        const timeoutMs = (g.timeout ? parseGateTimeout(g.timeout) : undefined) ?? DEFAULT_GATE_TIMEOUT_MS;
        const body = JSON.stringify({ channel: s.channel, rollout: s.rollout, gate: { index: index + 1, kind: g.kind } });
        return nextResult(prev, g.kind, webhookOutcome(await http({ method: "POST", url: g.url, body, timeoutMs, denyPrivate: opts.denyPrivate })), at);
      }
      case "prometheus": {
        const base = g.url.replace(/\/+$/, "");
        const url = `${base}/api/v1/query?query=${encodeURIComponent(fillQuery(g.query, { release: s.release.version, channel: s.channel }))}`;
        return nextResult(prev, g.kind, prometheusOutcome(g, await http({ method: "GET", url, timeoutMs: DEFAULT_GATE_TIMEOUT_MS, denyPrivate: opts.denyPrivate })), at);
      }
    }
  }

  return {
    /**
     * The gates' results after this tick: the due ones evaluated (all of
     * them with `all`: an advance asks them now), the others as they were.
     */
    async evaluate(specs: readonly GateSpec[], previous: readonly GateResult[], s: GateSubject, at: Date, all = false): Promise<GateResult[]> {
      return Promise.all(
        specs.map(async (g, i) => {
          const prev = previous[i]!;
          if (!all && !gateDue(g, prev, at, opts.intervalMs)) return prev;
          const r = await evaluateOne(g, i, s, prev, at);
          opts.onEvaluated?.(g.kind, r.state);
          return r;
        }),
      );
    },
  };
}
export type GateEvaluator = ReturnType<typeof gateEvaluator>;
