// Health gates (docs/api.md §9) as pure rules over what was observed: the
// outcome of one evaluation of each kind of gate, the three-in-a-row rule of
// inconclusive answers, which gates are due at a tick, and the verdict over
// a step's gates. src/services/gate-evaluator.ts observes (reads the report
// counts, calls the webhook or Prometheus) and src/services/rollout-service.ts
// writes the results and acts on the verdict. Table-tested in
// test/services/gate-rules.test.ts.
//
// The rules the contract leaves open (docs/decisions.md):
// - a Prometheus gate is asked again like a webhook gate: an answer without
//   a sample (or not a number, or an error) is inconclusive, and three
//   inconclusive answers in a row fail it;
// - a pass or a fail resets the inconclusive count; the latest evaluation is
//   the gate's state (a webhook that passed and then fails, fails);
// - the reports gate is pending (never inconclusive) until its rule decides.
import { compares, parseComparison } from "../domain/gate-spec.js";
import type { GateSpec } from "../domain/schemas.js";
import type { ReportCounts } from "../repositories/reports-repo.js";

export const GATE_STATES = ["pending", "pass", "fail", "inconclusive"] as const;
export type GateState = (typeof GATE_STATES)[number];
export type GateKind = GateSpec["kind"];

/** The last evaluation of one gate of the current step, as stored and shown. */
export interface GateResult {
  kind: GateKind;
  state: GateState;
  detail: string;
  /** ISO time of the evaluation; null: never evaluated. */
  evaluatedAt: string | null;
  /** Inconclusive answers in a row (webhook, prometheus). */
  inconclusive: number;
}

/** The stored evaluation: of which step its results are (a new step starts from pending). */
export interface GateEvaluation {
  step: number;
  results: GateResult[];
}

/** Inconclusive answers in a row that fail a webhook or Prometheus gate. */
export const INCONCLUSIVE_LIMIT = 3;

/** One evaluation's answer, before the three-in-a-row rule. */
export interface Observation {
  state: "pending" | "pass" | "fail" | "inconclusive";
  detail: string;
}

/** The gates of a rollout's current step: the rollout's, then the step's own. */
export function gatesOf(r: { gates: readonly GateSpec[]; step: number; steps: readonly { gates?: readonly GateSpec[] | undefined }[] }): GateSpec[] {
  return [...r.gates, ...(r.steps[r.step]?.gates ?? [])];
}

/** A gate that was never evaluated. */
export function pendingResult(g: GateSpec): GateResult {
  return { kind: g.kind, state: "pending", detail: "not evaluated yet", evaluatedAt: null, inconclusive: 0 };
}

/** The results of the current step's gates as stored, or pending where there are none (another step's, another gate's). */
export function currentResults(specs: readonly GateSpec[], stored: GateEvaluation | null, step: number): GateResult[] {
  return specs.map((g, i) => {
    const r = stored && stored.step === step ? stored.results[i] : undefined;
    return r && r.kind === g.kind ? r : pendingResult(g);
  });
}

const ratioText = (n: number) => (Math.round(n * 10_000) / 10_000).toString();

/**
 * The reports gate (docs/api.md §9): reports on the target from licensees
 * of the channel. Passes with at least minHealthy healthy and
 * failed / (healthy + degraded + failed) at most maxFailedRatio; fails at
 * once when minSamples (default minHealthy) such reports exist and the ratio
 * is exceeded; pending otherwise.
 */
export function reportsOutcome(g: Extract<GateSpec, { kind: "reports" }>, c: Pick<ReportCounts, "healthy" | "degraded" | "failed">): Observation {
  const samples = c.healthy + c.degraded + c.failed;
  const ratio = samples === 0 ? 0 : c.failed / samples;
  const minSamples = g.minSamples ?? g.minHealthy;
  const seen = `${c.healthy} healthy, ${c.degraded} degraded, ${c.failed} failed (failed ratio ${ratioText(ratio)}, at most ${g.maxFailedRatio})`;
  if (ratio > g.maxFailedRatio) {
    if (samples >= minSamples) return { state: "fail", detail: `${seen}: the failed ratio is exceeded with ${samples} of at least ${minSamples} reports` };
    return { state: "pending", detail: `${seen}: the failed ratio is exceeded, but only ${samples} of ${minSamples} reports so far` };
  }
  if (c.healthy >= g.minHealthy) return { state: "pass", detail: `${seen}: at least ${g.minHealthy} healthy` };
  return { state: "pending", detail: `${seen}: waiting for ${g.minHealthy} healthy` };
}

/** What an HTTP call answered: a status and body, or why there was none. */
export type HttpAnswer = { status: number; body: string } | { error: string };

function jsonOf(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

const clip = (s: string, n = 200) => (s.length > n ? `${s.slice(0, n)}…` : s);

/** The webhook gate: 2xx {"pass": true} passes, {"pass": false, "reason"} fails, anything else is inconclusive. */
export function webhookOutcome(a: HttpAnswer): Observation {
  if ("error" in a) return { state: "inconclusive", detail: `no answer: ${clip(a.error)}` };
  if (a.status < 200 || a.status > 299) return { state: "inconclusive", detail: `answered ${a.status}` };
  const j = jsonOf(a.body);
  if (j && typeof j === "object" && !Array.isArray(j)) {
    const o = j as Record<string, unknown>;
    if (o.pass === true) return { state: "pass", detail: typeof o.reason === "string" ? `passed: ${clip(o.reason)}` : "passed" };
    if (o.pass === false) return { state: "fail", detail: typeof o.reason === "string" ? `failed: ${clip(o.reason)}` : "failed (no reason given)" };
  }
  return { state: "inconclusive", detail: `answered ${a.status} without {"pass": true|false}: ${clip(a.body, 100)}` };
}

/** `{{release}}` and `{{channel}}` in a Prometheus gate's query, filled in. */
export function fillQuery(query: string, f: { release: string; channel: string }): string {
  return query.replaceAll("{{release}}", f.release).replaceAll("{{channel}}", f.channel);
}

/** The first sample of an instant query's answer (a vector's first element, or a scalar), or why there is none. */
export function firstSample(body: string): { value: number } | { none: string } {
  const j = jsonOf(body) as { status?: unknown; error?: unknown; data?: { resultType?: unknown; result?: unknown } } | undefined;
  if (!j || typeof j !== "object") return { none: "the answer is not JSON" };
  if (j.status !== "success") return { none: `status ${String(j.status)}${typeof j.error === "string" ? `: ${clip(j.error)}` : ""}` };
  const result = j.data?.result;
  let pair: unknown;
  if (j.data?.resultType === "scalar") pair = result;
  else if (j.data?.resultType === "vector" && Array.isArray(result)) pair = (result[0] as { value?: unknown } | undefined)?.value;
  else return { none: `result type ${String(j.data?.resultType)} (an instant vector or scalar is needed)` };
  if (pair === undefined) return { none: "no sample" };
  const raw = Array.isArray(pair) ? pair[1] : undefined;
  // Prometheus writes infinities as "+Inf" and "-Inf".
  const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : typeof raw === "string" ? Number(raw) : NaN;
  return Number.isNaN(value) ? { none: `the sample is not a number (${String(raw)})` } : { value };
}

/** The Prometheus gate: the first sample compared with `pass`; no sample is inconclusive. */
export function prometheusOutcome(g: Extract<GateSpec, { kind: "prometheus" }>, a: HttpAnswer): Observation {
  if ("error" in a) return { state: "inconclusive", detail: `no answer: ${clip(a.error)}` };
  const s = firstSample(a.body);
  if ("none" in s) return { state: "inconclusive", detail: `answered ${a.status}: ${s.none}` };
  const pass = parseComparison(g.pass);
  if (!pass) return { state: "fail", detail: `pass ${JSON.stringify(g.pass)} is not a comparison` };
  return compares(pass, s.value) ? { state: "pass", detail: `${s.value} ${g.pass}` } : { state: "fail", detail: `${s.value} is not ${g.pass}` };
}

/** The gate's result after an observation: three inconclusive ones in a row fail it. */
export function nextResult(prev: GateResult | undefined, kind: GateKind, o: Observation, at: Date): GateResult {
  const evaluatedAt = at.toISOString();
  if (o.state !== "inconclusive") return { kind, state: o.state, detail: o.detail, evaluatedAt, inconclusive: 0 };
  const inconclusive = (prev?.inconclusive ?? 0) + 1;
  if (inconclusive >= INCONCLUSIVE_LIMIT) return { kind, state: "fail", detail: `${inconclusive} inconclusive answers in a row; the last: ${o.detail}`, evaluatedAt, inconclusive };
  return { kind, state: "inconclusive", detail: `${o.detail} (${inconclusive} of ${INCONCLUSIVE_LIMIT} inconclusive in a row)`, evaluatedAt, inconclusive };
}

/** Whether a gate is asked at this tick: the reports gate always (a database count); HTTP gates once per interval. */
export function gateDue(g: GateSpec, prev: GateResult, now: Date, intervalMs: number): boolean {
  if (g.kind === "reports") return true;
  if (prev.evaluatedAt === null) return true;
  return now.getTime() - Date.parse(prev.evaluatedAt) >= intervalMs;
}

export type GatesVerdict = { kind: "pass" } | { kind: "pending"; detail: string } | { kind: "fail"; index: number; gate: GateKind; detail: string };

/** The verdict over the current step's gates: the first failed one fails them; all passing pass them (no gates: pass). */
export function gatesVerdict(results: readonly GateResult[]): GatesVerdict {
  const failed = results.findIndex((r) => r.state === "fail");
  if (failed >= 0) return { kind: "fail", index: failed, gate: results[failed]!.kind, detail: results[failed]!.detail };
  const waiting = results.findIndex((r) => r.state !== "pass");
  if (waiting >= 0) return { kind: "pending", detail: `gate ${waiting + 1} (${results[waiting]!.kind}) is ${results[waiting]!.state}: ${results[waiting]!.detail}` };
  return { kind: "pass" };
}

/** Names a gate in reasons and messages: "gate 2 (webhook)". */
export function gateName(index: number, kind: GateKind): string {
  return `gate ${index + 1} (${kind})`;
}

/** Whether two results say the same (a write is needed when not). */
export function sameResults(a: readonly GateResult[], b: readonly GateResult[]): boolean {
  return a.length === b.length && a.every((r, i) => r.kind === b[i]!.kind && r.state === b[i]!.state && r.detail === b[i]!.detail && r.evaluatedAt === b[i]!.evaluatedAt && r.inconclusive === b[i]!.inconclusive);
}
