// Health gates of staged rollouts (docs/api.md §9) over HTTP, on SQLite and
// PostgreSQL: the reports gate halting a rollout at the first tick after
// its cohort reports failed (with a signed rollout.halted webhook, checked
// here with node:crypto), passing so the step ends after its bake, and
// aborting with onFailure rollback; webhook gates against a node:http
// server this test controls (pass, fail, three inconclusive answers, the
// interval, advance); resume of a halted rollout; the metrics.
// Prometheus gates run against a real Prometheus in their own test file.
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import t, { type Test } from "tap";
import { eachProvider } from "../../helpers/db.js";
import { testApp, type TestApp } from "../../helpers/app.js";
import { eventually } from "../../helpers/eventually.js";
import { webhookReceiver } from "../../helpers/webhook-receiver.js";
import { assertError, call, sleep } from "./fixtures/admin-helpers.js";
import type { RolloutDto } from "../../../src/routes/admin/dto/rollouts.js";

const SECRET = "s3cret-of-the-receiver-0123456789";
/** Only the test's ticks progress rollouts (h.ctx.scheduler.tick()); webhook deliveries and gate intervals are fast. */
const ENV = { ROLLOUT_TICK_MS: "60000", GATE_INTERVAL_MS: "10", WEBHOOK_TICK_MS: "50", WEBHOOK_RETRY_BASE_MS: "100" };
const GENEROUS_MS = 20_000;

function promote(h: TestApp, body: Record<string, unknown>) {
  return call(h, "POST", "/channels/stable/promote", { body: { release: "0.59.2", ...body }, role: "release-engineer" });
}

async function started(t: Test, h: TestApp, rollout: Record<string, unknown>): Promise<RolloutDto> {
  const res = await promote(h, { rollout });
  t.equal(res.statusCode, 202, `rollout started: ${res.body.slice(0, 300)}`);
  return res.json() as RolloutDto;
}

async function rollout(h: TestApp): Promise<RolloutDto> {
  const res = await call(h, "GET", "/channels/stable/rollout", { role: "viewer" });
  if (res.statusCode !== 200) throw new Error(`GET rollout: ${res.statusCode} ${res.body}`);
  return res.json() as RolloutDto;
}

function control(h: TestApp, what: string, body: Record<string, unknown>, role: "release-engineer" | "admin" = "release-engineer") {
  return call(h, "POST", `/channels/stable/rollout/${what}`, { body, role });
}

async function report(t: Test, h: TestApp, sub: string, state: string, release = "0.59.2"): Promise<void> {
  const res = await h.app.inject({ method: "POST", url: "/api/v1/operator/report", headers: { authorization: `Bearer ${h.license({ sub, channel: "stable" })}`, "content-type": "application/json" }, payload: { release, state } });
  t.equal(res.statusCode, 202, `${sub} reports ${state} on ${release}`);
}

async function auditActions(h: TestApp): Promise<string[]> {
  const items = (await call(h, "GET", "/audit?limit=200", { role: "viewer" })).json().items as { action: string }[];
  return items.map((a) => a.action).filter((a) => a.startsWith("rollout."));
}

async function historyOf(h: TestApp): Promise<{ action: string; reason: string | null }[]> {
  return (await call(h, "GET", "/channels/stable/history?limit=50", { role: "viewer" })).json().items;
}

/** A gate webhook the test answers: the script gives status and body for the n-th request. */
async function gateServer(t: Test, answer: (n: number) => { status: number; body: string }) {
  const received: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>);
      const a = answer(received.length);
      res.writeHead(a.status, { "content-type": "application/json" }).end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/gate`, received };
}

const REPORTS = { kind: "reports", minHealthy: 2, maxFailedRatio: 0.2 };

await eachProvider(t, "failed reports from the cohort halt the rollout at the next tick, and a signed rollout.halted arrives", async (t, provider) => {
  const h = await testApp(t, { provider, env: ENV });
  const rx = await webhookReceiver(t);
  t.equal((await call(h, "POST", "/webhooks", { body: { url: rx.url, events: ["rollout.halted"], secret: SECRET } })).statusCode, 201);
  const r = await started(t, h, { steps: [{ percent: 50, bake: "1h" }, { percent: 100 }], gates: [REPORTS] });
  t.equal(r.onFailure, "halt", "onFailure defaults to halt");
  t.match(r.gates, [{ kind: "reports", state: "pending", scope: "rollout", evaluatedAt: null, inconclusive: 0, spec: REPORTS }], "the gate, pending");

  await h.ctx.scheduler.tick();
  t.match((await rollout(h)).gates, [{ state: "pending", detail: /0 healthy, 0 degraded, 0 failed/ }], "nothing reported: pending");
  await report(t, h, "customer-1", "healthy");
  await report(t, h, "customer-2", "failed");
  await h.ctx.scheduler.tick();
  const halted = await rollout(h);
  t.equal(halted.state, "halted", "one tick after the failed reports: halted, an hour before the bake ends");
  t.match(halted.gates, [{ kind: "reports", state: "fail", detail: /1 healthy, 0 degraded, 1 failed \(failed ratio 0\.5, at most 0\.2\)/ }]);
  t.ok(halted.gates[0]!.evaluatedAt, "evaluatedAt is set");
  t.equal(halted.nextStepAt, null);
  t.same((await auditActions(h)).slice(0, 2), ["rollout.halt", "rollout.start"], "audited as rollout.halt");
  t.same((await historyOf(h)).map((e) => e.action).filter((a) => a === "rollout-step" || a === "rollback"), ["rollout-step"], "a halt writes no history (the start's rollout-step only)");

  const delivered = await eventually(async () => rx.received[0], { within: GENEROUS_MS, every: 25 });
  t.ok(delivered.ok, `rollout.halted delivered: ${delivered.summary}`);
  const got = rx.received[0]!;
  t.equal(got.headers["x-chartroom-signature"], `sha256=${createHmac("sha256", SECRET).update(Buffer.from(got.body, "utf8")).digest("hex")}`, "signed: HMAC-SHA256 of the exact body");
  t.match(got.json, { type: "io.chartroom.rollout.halted", subject: "channels/stable", data: { channel: "stable", rollout: { id: r.id, release: "0.59.2", state: "halted", step: 1 }, reason: /gate 1 \(reports\) of step 1 failed/, by: "chartroom-scheduler" } });

  const metrics = (await h.app.inject("/metrics")).body;
  t.match(metrics, /chartroom_rollout_gate_evaluations_total\{kind="reports",outcome="fail"\} 1/);
  t.match(metrics, /chartroom_rollout_gate_evaluations_total\{kind="reports",outcome="pending"\} 1/);
  t.match(metrics, /chartroom_rollout_percent\{[^}]*state="halted"[^}]*\} 50/);

  // Halted: advance needs force; the scheduler leaves it alone.
  assertError(t, await control(h, "advance", { reason: "ship it" }), 409, "GATES_FAILING", undefined, "advance of a halted rollout");
  await h.ctx.scheduler.tick();
  t.equal((await rollout(h)).state, "halted", "still halted after a tick");
  // Resume clears the halt and the gates start over; the same reports halt it again at the next tick.
  const resumed = await control(h, "resume", { reason: "false alarm?" });
  t.equal(resumed.statusCode, 200, resumed.body);
  t.match(resumed.json(), { changed: true, rollout: { state: "progressing", gates: [{ state: "pending", evaluatedAt: null }] } });
  await h.ctx.scheduler.tick();
  t.equal((await rollout(h)).state, "halted", "halted again: the reports still fail");
  // Fixed: the failing licensee reports healthy; resume, and the gate passes (the bake still holds the step).
  await report(t, h, "customer-2", "healthy");
  t.equal((await control(h, "resume", { reason: "fixed" })).statusCode, 200);
  await h.ctx.scheduler.tick();
  t.match(await rollout(h), { state: "progressing", step: 1, gates: [{ state: "pass" }] }, "passing, baking");
  const advanced = await control(h, "advance", { reason: "gates pass" });
  t.equal(advanced.statusCode, 200, `advance without force with the gates passing: ${advanced.body.slice(0, 200)}`);
  t.match(advanced.json(), { rollout: { state: "progressing", step: 2, gates: [{ state: "pending" }] } }, "the next step's gates start pending");
  await waitDeliveries(h);
});

/** Lets the dispatcher finish before the app closes (fewer teardown races). */
async function waitDeliveries(h: TestApp): Promise<void> {
  await eventually(async () => /chartroom_webhook_pending 0/.test((await h.app.inject("/metrics")).body) || undefined, { within: GENEROUS_MS, every: 25 });
}

await eachProvider(t, "a passing reports gate ends the step after its bake, not before; pending gates hold it after", async (t, provider) => {
  const h = await testApp(t, { provider, env: ENV });
  await started(t, h, { steps: [{ percent: 50, bake: "1s" }, { percent: 100 }], gates: [{ kind: "reports", minHealthy: 2, maxFailedRatio: 0.5 }] });
  await h.ctx.scheduler.tick();
  await sleep(1100);
  await h.ctx.scheduler.tick();
  t.match(await rollout(h), { state: "progressing", step: 1, nextStepAt: /Z$/, gates: [{ state: "pending", detail: /waiting for 2 healthy/ }] }, "bake passed, gate pending: the step holds");
  await report(t, h, "customer-1", "healthy");
  await report(t, h, "customer-2", "healthy");
  await report(t, h, "customer-3", "failed");
  await h.ctx.scheduler.tick();
  t.match(await rollout(h), { state: "progressing", step: 2 }, "the gate passed (ratio 1/3 at most 0.5): step 2 began");
  await h.ctx.scheduler.tick();
  t.match(await rollout(h), { state: "completed", gates: [{ kind: "reports", state: "pass" }] }, "the rollout's gate applies to the last step too, and passes");
  t.equal((await call(h, "GET", "/channels/stable", { role: "viewer" })).json().release.version, "0.59.2");
});

await eachProvider(t, "a reports gate fails at once, bake or not, once minSamples reports exist; onFailure rollback aborts", async (t, provider) => {
  const h = await testApp(t, { provider, env: ENV });
  await started(t, h, { steps: [{ percent: 20, bake: "1d" }, { percent: 100 }], onFailure: "rollback", gates: [{ kind: "reports", minHealthy: 10, maxFailedRatio: 0.1, minSamples: 2 }] });
  await report(t, h, "customer-1", "failed");
  await h.ctx.scheduler.tick();
  t.match(await rollout(h), { state: "progressing", gates: [{ state: "pending", detail: /only 1 of 2 reports/ }] }, "one report, minSamples 2: pending");
  await report(t, h, "customer-2", "degraded");
  await h.ctx.scheduler.tick();
  const aborted = await rollout(h);
  t.match(aborted, { state: "aborted", endedBy: "chartroom-scheduler", endReason: /gate 1 \(reports\) of step 1 failed: 0 healthy, 1 degraded, 1 failed/, onFailure: "rollback" });
  t.match((await historyOf(h))[0], { action: "rollback", reason: /aborted: gate 1 \(reports\)/ }, "history: the abort's rollback");
  t.equal((await auditActions(h))[0], "rollout.abort");
  t.equal((await call(h, "GET", "/channels/stable", { role: "viewer" })).json().release.version, "0.58.1", "the channel keeps its release");
});

await eachProvider(t, "webhook gates: pass, fail with the reason, three inconclusive answers fail", async (t, provider) => {
  const h = await testApp(t, { provider, env: ENV });
  // Pass: the step ends (bake 0s) and the gate received the rollout.
  let answer = { status: 200, body: '{"pass":true}' };
  const gate = await gateServer(t, () => answer);
  const r = await started(t, h, { steps: [{ percent: 10, gates: [{ kind: "webhook", url: gate.url, timeout: "2s" }] }, { percent: 100, bake: "1h" }] });
  t.match(r.steps[0], { percent: 10, gates: [{ kind: "webhook", url: gate.url, timeout: "2s" }] }, "a step shows its own gates");
  t.match(r.gates, [{ kind: "webhook", scope: "step", state: "pending" }]);
  await h.ctx.scheduler.tick();
  t.match(await rollout(h), { state: "progressing", step: 2, gates: [] }, "the webhook passed: step 2 (no gates of its own)");
  t.match(gate.received[0], { channel: "stable", rollout: { id: r.id, release: "0.59.2", previous: "0.58.1", state: "progressing", step: 1, steps: 2, percent: 10 }, gate: { index: 1, kind: "webhook" } }, "POST of the rollout as JSON");
  t.equal((await control(h, "abort", { reason: "next case" })).statusCode, 200);

  // Fail with a reason: halted, the reason shown.
  answer = { status: 200, body: '{"pass":false,"reason":"error budget burnt"}' };
  await started(t, h, { steps: [{ percent: 10 }, { percent: 100 }], gates: [{ kind: "webhook", url: gate.url }] });
  await h.ctx.scheduler.tick();
  t.match(await rollout(h), { state: "halted", gates: [{ kind: "webhook", state: "fail", detail: "failed: error budget burnt" }] });
  t.equal((await control(h, "abort", { reason: "next case" })).statusCode, 200);

  // Inconclusive (a 500, then not JSON, then no pass field): counted, and the third fails.
  const bodies = [{ status: 500, body: "oops" }, { status: 200, body: "fine" }, { status: 200, body: '{"ok":true}' }];
  let n = 0;
  answer = { status: 0, body: "" };
  const flaky = await gateServer(t, () => bodies[Math.min(n++, 2)]!);
  await started(t, h, { steps: [{ percent: 10 }, { percent: 100 }], gates: [{ kind: "webhook", url: flaky.url }] });
  await h.ctx.scheduler.tick();
  t.match(await rollout(h), { state: "progressing", gates: [{ state: "inconclusive", inconclusive: 1, detail: /answered 500/ }] }, "first inconclusive answer");
  await sleep(20);
  await h.ctx.scheduler.tick();
  t.match(await rollout(h), { state: "progressing", gates: [{ state: "inconclusive", inconclusive: 2 }] }, "second");
  await sleep(20);
  await h.ctx.scheduler.tick();
  t.match(await rollout(h), { state: "halted", gates: [{ state: "fail", inconclusive: 3, detail: /3 inconclusive answers in a row/ }] }, "the third fails the gate");
  t.equal(flaky.received.length, 3, "asked three times");
  t.match((await h.app.inject("/metrics")).body, /chartroom_rollout_gate_evaluations_total\{kind="webhook",outcome="inconclusive"\} 2/);
});

await eachProvider(t, "webhook gates are asked at most every GATE_INTERVAL_MS; advance asks them now", async (t, provider) => {
  const h = await testApp(t, { provider, env: { ...ENV, GATE_INTERVAL_MS: "60000" } });
  let answer = { status: 200, body: '{"pass":false,"reason":"not yet"}' };
  const gate = await gateServer(t, () => answer);
  // A gate that never answers in time is inconclusive, not a hang.
  const slow = createServer(() => {});
  await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => { slow.closeAllConnections(); slow.close(() => resolve()); }));
  await started(t, h, { steps: [{ percent: 10, bake: "1h" }, { percent: 100 }], onFailure: "halt", gates: [{ kind: "webhook", url: gate.url }] });
  assertError(t, await control(h, "advance", { reason: "go" }), 409, "GATES_FAILING", undefined, "advance with the webhook saying no");
  t.equal(gate.received.length, 1, "advance asked the gate");
  answer = { status: 200, body: '{"pass":true}' };
  const advanced = await control(h, "advance", { reason: "go" });
  t.equal(advanced.statusCode, 200, `the webhook now says yes: ${advanced.body.slice(0, 200)}`);
  t.match(advanced.json(), { rollout: { step: 2 } });
  t.equal(gate.received.length, 2);
  t.equal((await control(h, "abort", { reason: "next" })).statusCode, 200);

  await started(t, h, { steps: [{ percent: 10, bake: "1h" }, { percent: 100 }], gates: [{ kind: "webhook", url: gate.url }, { kind: "webhook", url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`, timeout: "200ms" }] });
  const before = gate.received.length;
  await h.ctx.scheduler.tick();
  await h.ctx.scheduler.tick();
  await h.ctx.scheduler.tick();
  t.equal(gate.received.length - before, 1, "three ticks within the interval: asked once");
  t.match((await rollout(h)).gates, [{ state: "pass" }, { state: "inconclusive", detail: /no answer within 200 ms/ }], "the slow one timed out: inconclusive");
});

t.test("with OUTBOUND_DENY_PRIVATE a gate on an internal address is refused, naming it", async (t) => {
  const h = await testApp(t, { env: { ...ENV, OUTBOUND_DENY_PRIVATE: "true" } });
  assertError(t, await promote(h, { rollout: { steps: [{ percent: 100 }], gates: [{ kind: "webhook", url: "http://127.0.0.1:9/gate" }] } }), 400, "VALIDATION_FAILED", "rollout.gates.0.url", "loopback webhook gate");
  assertError(t, await promote(h, { rollout: { steps: [{ percent: 10, gates: [{ kind: "prometheus", url: "http://10.1.2.3:9090", query: "up", pass: "== 1" }] }, { percent: 100 }] } }), 400, "VALIDATION_FAILED", "rollout.steps.0.gates.0.url", "private Prometheus gate on a step");
  t.equal((await call(h, "GET", "/channels/stable/rollout", { role: "viewer" })).statusCode, 404, "no rollout started");
});

await eachProvider(t, "the server's own ticker halts a rollout soon after the failed reports", async (t, provider) => {
  const h = await testApp(t, { provider, env: { ...ENV, ROLLOUT_TICK_MS: "100" } });
  await started(t, h, { steps: [{ percent: 50, bake: "1h" }, { percent: 100 }], gates: [REPORTS] });
  await report(t, h, "customer-1", "failed");
  await report(t, h, "customer-2", "failed");
  const reportedAt = performance.now();
  const halted = await eventually(async () => ((await rollout(h)).state === "halted" ? true : undefined), { within: GENEROUS_MS, every: 20 });
  t.ok(halted.ok, `halted by the scheduler: ${halted.summary}`);
  t.ok(performance.now() - reportedAt < GENEROUS_MS, "well within the bake of an hour");
});
