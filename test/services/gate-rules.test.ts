// Table tests of the health gates' rules (src/services/gate-rules.ts) and
// of the small languages of their specs (src/domain/gate-spec.ts).
import t from "tap";
import { compares, parseComparison, parseGateTimeout } from "../../src/domain/gate-spec.js";
import {
  currentResults,
  firstSample,
  fillQuery,
  gateDue,
  gatesOf,
  gatesVerdict,
  nextResult,
  pendingResult,
  prometheusOutcome,
  reportsOutcome,
  webhookOutcome,
  type GateResult,
  type Observation,
} from "../../src/services/gate-rules.js";
import type { GateSpec } from "../../src/domain/schemas.js";

t.test("reports gate: exactly docs/api.md §9", async (t) => {
  const g = (minHealthy: number, maxFailedRatio: number, minSamples?: number) => ({ kind: "reports" as const, minHealthy, maxFailedRatio, ...(minSamples !== undefined ? { minSamples } : {}) });
  const cases: [string, ReturnType<typeof g>, { healthy: number; degraded: number; failed: number }, Observation["state"]][] = [
    ["nothing reported yet", g(3, 0.1), { healthy: 0, degraded: 0, failed: 0 }, "pending"],
    ["enough healthy, no failures", g(3, 0.1), { healthy: 3, degraded: 0, failed: 0 }, "pass"],
    ["one short of minHealthy", g(3, 0.1), { healthy: 2, degraded: 0, failed: 0 }, "pending"],
    ["ratio at the limit passes (at most)", g(3, 0.25), { healthy: 3, degraded: 0, failed: 1 }, "pass"],
    ["ratio over the limit with minSamples (default minHealthy) reports: fail", g(3, 0.1), { healthy: 2, degraded: 0, failed: 1 }, "fail"],
    ["ratio over the limit, fewer reports than minSamples: pending", g(3, 0.1), { healthy: 0, degraded: 0, failed: 2 }, "pending"],
    ["degraded counts in the denominator, not as healthy", g(2, 0.2), { healthy: 2, degraded: 7, failed: 1 }, "pass"],
    ["degraded alone never passes", g(2, 0.5), { healthy: 0, degraded: 5, failed: 0 }, "pending"],
    ["explicit minSamples smaller: fails earlier", g(10, 0.1, 2), { healthy: 1, degraded: 0, failed: 1 }, "fail"],
    ["explicit minSamples larger: waits", g(2, 0.1, 10), { healthy: 3, degraded: 0, failed: 2 }, "pending"],
    ["minHealthy 0 and nothing reported: pass", g(0, 0), { healthy: 0, degraded: 0, failed: 0 }, "pass"],
    ["maxFailedRatio 0: one failure with enough samples fails", g(1, 0), { healthy: 5, degraded: 0, failed: 1 }, "fail"],
  ];
  for (const [name, spec, counts, want] of cases) {
    const o = reportsOutcome(spec, counts);
    t.equal(o.state, want, `${name}: ${o.detail}`);
  }
  t.match(reportsOutcome(g(3, 0.1), { healthy: 2, degraded: 0, failed: 1 }).detail, /2 healthy, 0 degraded, 1 failed \(failed ratio 0\.3333, at most 0\.1\)/, "the detail says what was counted");
});

t.test("webhook gate answers", async (t) => {
  const cases: [string, Parameters<typeof webhookOutcome>[0], Observation["state"], RegExp][] = [
    ["200 pass true", { status: 200, body: '{"pass":true}' }, "pass", /^passed$/],
    ["204 pass true with reason", { status: 204, body: '{"pass":true,"reason":"ok"}' }, "pass", /passed: ok/],
    ["200 pass false with reason", { status: 200, body: '{"pass":false,"reason":"error budget burnt"}' }, "fail", /failed: error budget burnt/],
    ["200 pass false without reason", { status: 200, body: '{"pass":false}' }, "fail", /no reason/],
    ["500", { status: 500, body: '{"pass":true}' }, "inconclusive", /answered 500/],
    ["302", { status: 302, body: "" }, "inconclusive", /answered 302/],
    ["200 not JSON", { status: 200, body: "ok" }, "inconclusive", /without \{"pass"/],
    ["200 pass is a string", { status: 200, body: '{"pass":"true"}' }, "inconclusive", /without/],
    ["200 an array", { status: 200, body: "[true]" }, "inconclusive", /without/],
    ["no answer", { error: "no answer within 5000 ms" }, "inconclusive", /no answer within 5000 ms/],
  ];
  for (const [name, a, want, detail] of cases) {
    const o = webhookOutcome(a);
    t.equal(o.state, want, name);
    t.match(o.detail, detail, `${name}: ${o.detail}`);
  }
});

t.test("prometheus gate answers", async (t) => {
  const g = (pass: string) => ({ kind: "prometheus" as const, url: "http://prom:9090", query: "q", pass });
  const vector = (...values: string[]) => JSON.stringify({ status: "success", data: { resultType: "vector", result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1700000000.5, v] })) } });
  const cases: [string, string, string, Observation["state"]][] = [
    ["below the bound", "< 0.05", vector("0.01"), "pass"],
    ["at the bound, strict", "< 0.05", vector("0.05"), "fail"],
    ["at the bound, inclusive", ">= 0.99", vector("0.99"), "pass"],
    ["first sample only", "< 1", vector("0.5", "7"), "pass"],
    ["first sample fails", "< 1", vector("7", "0.5"), "fail"],
    ["scalar", "== 1", JSON.stringify({ status: "success", data: { resultType: "scalar", result: [1, "1"] } }), "pass"],
    ["empty vector: inconclusive", "< 1", vector(), "inconclusive"],
    ["NaN sample: inconclusive", "< 1", vector("NaN"), "inconclusive"],
    ["+Inf compares", "> 1", vector("+Inf"), "pass"],
    ["an error answer", "< 1", JSON.stringify({ status: "error", errorType: "bad_data", error: "parse error" }), "inconclusive"],
    ["a matrix", "< 1", JSON.stringify({ status: "success", data: { resultType: "matrix", result: [] } }), "inconclusive"],
    ["not JSON", "< 1", "<html>", "inconclusive"],
  ];
  for (const [name, pass, body, want] of cases) t.equal(prometheusOutcome(g(pass), { status: 200, body }).state, want, `${name}: ${prometheusOutcome(g(pass), { status: 200, body }).detail}`);
  t.equal(prometheusOutcome(g("< 1"), { error: "connect ECONNREFUSED" }).state, "inconclusive");
  t.same(firstSample(vector("0.25")), { value: 0.25 });
  t.equal(fillQuery('rate(errors{release="{{release}}",channel="{{channel}}"}[5m]) + {{release}}', { release: "1.2.3", channel: "stable" }), 'rate(errors{release="1.2.3",channel="stable"}[5m]) + 1.2.3');
});

t.test("pass comparisons and timeouts parse, or are refused", async (t) => {
  const ok: [string, string, number][] = [["< 0.05", "<", 0.05], [">= 0.99", ">=", 0.99], ["<=1", "<=", 1], ["  > -3e2 ", ">", -300], ["== 0", "==", 0], ["!= .5", "!=", 0.5]];
  for (const [s, op, value] of ok) t.same(parseComparison(s), { op, value }, s);
  for (const s of ["", "0.05", "<", "< abc", "=< 1", "< 1 2", "<< 1", "< 1e999", "< NaN", "=1"]) t.equal(parseComparison(s), undefined, `refused: ${JSON.stringify(s)}`);
  t.ok(compares({ op: "<", value: 1 }, 0.5));
  t.notOk(compares({ op: "<", value: 1 }, NaN), "NaN never satisfies");
  t.equal(parseGateTimeout("5s"), 5000);
  t.equal(parseGateTimeout("250ms"), 250);
  t.equal(parseGateTimeout("60s"), 60_000);
  for (const s of ["61s", "0ms", "5m", "5", "s"]) t.equal(parseGateTimeout(s), undefined, `refused: ${s}`);
});

t.test("three inconclusive answers in a row fail; a conclusive one resets the count", async (t) => {
  const at = new Date("2026-12-01T10:00:00Z");
  const inc: Observation = { state: "inconclusive", detail: "answered 500" };
  let r: GateResult = pendingResult({ kind: "webhook", url: "http://x" });
  r = nextResult(r, "webhook", inc, at);
  t.match(r, { state: "inconclusive", inconclusive: 1, evaluatedAt: at.toISOString() });
  r = nextResult(r, "webhook", inc, at);
  t.match(r, { state: "inconclusive", inconclusive: 2 });
  const reset = nextResult(r, "webhook", { state: "pass", detail: "passed" }, at);
  t.match(reset, { state: "pass", inconclusive: 0 }, "a pass resets");
  r = nextResult(r, "webhook", inc, at);
  t.match(r, { state: "fail", inconclusive: 3 });
  t.match(r.detail, /3 inconclusive answers in a row; the last: answered 500/);
  t.match(nextResult(reset, "webhook", inc, at), { state: "inconclusive", inconclusive: 1 }, "counting starts over after the reset");
});

t.test("which gates are due, and the verdict", async (t) => {
  const now = new Date("2026-12-01T10:00:10Z");
  const hook: GateSpec = { kind: "webhook", url: "http://x" };
  const reports: GateSpec = { kind: "reports", minHealthy: 1, maxFailedRatio: 0 };
  const at = (iso: string): GateResult => ({ kind: "webhook", state: "pass", detail: "", evaluatedAt: iso, inconclusive: 0 });
  t.ok(gateDue(hook, pendingResult(hook), now, 10_000), "never evaluated: due");
  t.notOk(gateDue(hook, at("2026-12-01T10:00:05Z"), now, 10_000), "5 s ago, interval 10 s: not due");
  t.ok(gateDue(hook, at("2026-12-01T10:00:00Z"), now, 10_000), "10 s ago: due");
  t.ok(gateDue(reports, { ...at("2026-12-01T10:00:09Z"), kind: "reports" }, now, 10_000), "reports: every tick");

  const res = (state: GateResult["state"], kind: GateResult["kind"] = "webhook"): GateResult => ({ kind, state, detail: state, evaluatedAt: null, inconclusive: 0 });
  t.same(gatesVerdict([]), { kind: "pass" }, "no gates pass");
  t.same(gatesVerdict([res("pass"), res("pass", "reports")]), { kind: "pass" });
  t.match(gatesVerdict([res("pass"), res("pending", "reports")]), { kind: "pending", detail: /gate 2 \(reports\) is pending/ });
  t.match(gatesVerdict([res("inconclusive"), res("pass")]), { kind: "pending" }, "inconclusive does not pass (nor fail yet)");
  t.match(gatesVerdict([res("pending"), res("fail", "prometheus")]), { kind: "fail", index: 1, gate: "prometheus" }, "any failed one fails them");

  const rollout = { gates: [reports], step: 1, steps: [{ gates: [hook] }, { gates: [hook, hook] }, {}] };
  t.same(gatesOf(rollout).map((g) => g.kind), ["reports", "webhook", "webhook"], "the rollout's gates, then the step's");
  t.same(gatesOf({ ...rollout, step: 2 }).map((g) => g.kind), ["reports"], "a step without its own");
  const stored = { step: 1, results: [res("pass", "reports"), res("fail")] };
  t.same(currentResults(gatesOf(rollout), stored, 1).map((r) => r.state), ["pass", "fail", "pending"], "stored results of this step, pending where none");
  t.same(currentResults(gatesOf(rollout), stored, 2).map((r) => r.state), ["pending", "pending", "pending"], "another step's results are not this step's");
  t.same(currentResults([{ kind: "webhook", url: "http://x" }], { step: 1, results: [res("pass", "reports")] }, 1).map((r) => r.state), ["pending"], "a result of another kind is not this gate's");
});
