// Staged rollouts (docs/api.md §7) over HTTP, on SQLite and PostgreSQL:
// start one from a promotion (202), polls split by the exact cohort (checked
// against an independent SHA-256 here), /resolve agreeing with the poll,
// pinned polls of the target for the cohort only, every control with its
// roles and error codes, the scheduler's steps and completion, the history
// and audit rows, freeze, rollback and yank aborting a rollout.
import { createHash } from "node:crypto";
import t, { type Test } from "tap";
import { eachProvider } from "../../helpers/db.js";
import { testApp, type TestApp } from "../../helpers/app.js";
import { assertError, call } from "./fixtures/admin-helpers.js";
import type { RolloutDto } from "../../../src/routes/admin/dto/rollouts.js";

/** The cohort, computed here without Chartroom's code: SHA-256(salt:sub), first 8 bytes big-endian, below p %. */
function inCohort(salt: string, sub: string, percent: number): boolean {
  const n = createHash("sha256").update(`${salt}:${sub}`).digest().readBigUInt64BE(0);
  return n * 100n < BigInt(percent) * (1n << 64n);
}

function promote(h: TestApp, channel: string, body: Record<string, unknown>, role: "release-engineer" | "admin" = "release-engineer") {
  return call(h, "POST", `/channels/${channel}/promote`, { body, role });
}

function control(h: TestApp, channel: string, what: string, body: Record<string, unknown>, role: "viewer" | "release-engineer" | "admin" = "release-engineer") {
  return call(h, "POST", `/channels/${channel}/rollout/${what}`, { body, role });
}

async function rollout(h: TestApp, channel: string): Promise<RolloutDto> {
  const res = await call(h, "GET", `/channels/${channel}/rollout`, { role: "viewer" });
  if (res.statusCode !== 200) throw new Error(`GET rollout: ${res.statusCode} ${res.body}`);
  return res.json() as RolloutDto;
}

async function polledVersion(h: TestApp, sub: string, channel = "stable"): Promise<{ version: string; etag: string }> {
  const res = await h.poll(h.license({ sub, channel }));
  if (res.statusCode !== 200) throw new Error(`poll ${sub}: ${res.statusCode} ${res.body}`);
  return { version: (res.json() as { metadata: { version: string } }).metadata.version, etag: String(res.headers.etag) };
}

async function history(h: TestApp, channel: string): Promise<{ action: string; fromVersion: string | null; toVersion: string | null; actor: string; reason: string | null }[]> {
  return (await call(h, "GET", `/channels/${channel}/history?limit=50`, { role: "viewer" })).json().items;
}

async function auditActions(h: TestApp): Promise<string[]> {
  const items = (await call(h, "GET", "/audit?limit=200", { role: "viewer" })).json().items as { action: string }[];
  return items.map((a) => a.action).filter((a) => a.startsWith("rollout."));
}

/** Only the test's own ticks progress rollouts (h.ctx.scheduler.tick()): a loaded machine must not race them. */
const MANUAL_TICKS = { env: { ROLLOUT_TICK_MS: "60000" } };

const SUBS = Array.from({ length: 60 }, (_, i) => `customer-${i}`);

await eachProvider(t, "a rollout splits the channel by its exact cohort, progresses, and completes", async (t: Test, provider) => {
  const h = await testApp(t, { provider, ...MANUAL_TICKS });
  const start = await promote(h, "stable", {
    release: "0.59.2",
    from: "beta",
    reason: "GA of 0.59.2",
    rollout: { steps: [{ percent: 30, bake: "1h" }, { percent: 60 }, { percent: 100 }], include: ["vip-canary"], exclude: ["bigbank"], salt: "s-1" },
  });
  t.equal(start.statusCode, 202, `202: ${start.body}`);
  const r = start.json() as RolloutDto;
  t.match(r, { channel: "stable", release: { version: "0.59.2" }, previous: { version: "0.58.1" }, state: "progressing", step: 1, percent: 30, include: ["vip-canary"], exclude: ["bigbank"], salt: "s-1", reason: "GA of 0.59.2", startedBy: "release-engineer@example.com", endedAt: null, gates: [] });
  t.same(r.steps, [{ percent: 30, bake: "1h" }, { percent: 60, bake: "0s" }, { percent: 100, bake: "0s" }], "steps, with the default bake");
  t.equal(Date.parse(r.nextStepAt!) - Date.parse(r.stepStartedAt), 3_600_000, "nextStepAt: the step's start plus its bake");

  const channel = (await call(h, "GET", "/channels/stable", { role: "viewer" })).json();
  t.equal(channel.release.version, "0.58.1", "the channel's release has not moved");
  t.match(channel.rollout, { id: r.id, release: { version: "0.59.2" }, state: "progressing", step: 1, steps: 3, percent: 30 });
  const list = (await call(h, "GET", "/channels", { role: "viewer" })).json().items as { name: string; rollout: unknown }[];
  t.match(list.find((c) => c.name === "stable")?.rollout, { id: r.id }, "the channel list shows the rollout");
  t.equal(list.find((c) => c.name === "beta")?.rollout, null, "and null where there is none");

  // Polls: the cohort gets the target, the rest the channel's release; /resolve says the same.
  let inside = 0;
  for (const sub of [...SUBS, "vip-canary", "bigbank"]) {
    const want = sub === "vip-canary" || (sub !== "bigbank" && inCohort("s-1", sub, 30));
    if (want) inside++;
    const got = await polledVersion(h, sub);
    t.equal(got.version, want ? "0.59.2" : "0.58.1", `${sub}: ${want ? "in" : "outside"} the cohort`);
    const resolved = (await call(h, "GET", `/resolve?sub=${sub}&channel=stable`, { role: "viewer" })).json();
    t.equal(resolved.etag, got.etag, `${sub}: /resolve's ETag is the poll's`);
    const rules = (resolved.reasons as { rule: string }[]).map((x) => x.rule);
    t.ok(rules.includes(sub === "vip-canary" ? "include" : sub === "bigbank" ? "exclude" : want ? "rollout-cohort" : "rollout-outside"), `${sub}: reason ${rules.join(",")}`);
  }
  t.ok(inside > 5 && inside < 40, `a real split (${inside} of ${SUBS.length + 2} in the cohort)`);

  // Pinned polls of the target: the cohort only.
  const outsider = SUBS.find((s) => !inCohort("s-1", s, 30))!;
  const insider = SUBS.find((s) => inCohort("s-1", s, 30))!;
  t.equal((await h.poll(h.license({ sub: insider }), "/api/v1/operator/channel/release/0.59.2")).statusCode, 200, "a pin of the target in the cohort");
  const pinnedOut = await h.poll(h.license({ sub: outsider }), "/api/v1/operator/channel/release/0.59.2");
  t.equal(pinnedOut.statusCode, 403, "a pin of the target outside the cohort is refused");
  t.equal(pinnedOut.json().code, "RELEASE_NOT_ENTITLED");

  // One active rollout per channel: any promotion meanwhile is refused, its dry run too.
  assertError(t, await promote(h, "stable", { release: "0.60.0" }), 409, "ROLLOUT_IN_PROGRESS", undefined, "a second promotion");
  assertError(t, await promote(h, "stable", { release: "0.60.0", dryRun: true }), 409, "ROLLOUT_IN_PROGRESS", undefined, "a dry run");

  // The counts: the fleet is flushed, then counted.
  await h.ctx.fleet.flush();
  const counted = await rollout(h, "stable");
  t.same(counted.counts, { licensees: SUBS.length + 2, inCohort: inside, servedTarget: inside, healthy: 0, failed: 0 }, "counts over the fleet");
  // Health reports on the target (docs/api.md §9): the latest per licensee counts; on another release, not at all.
  const reportOf = (sub: string, release: string, state: string) =>
    h.app.inject({ method: "POST", url: "/api/v1/operator/report", headers: { authorization: `Bearer ${h.license({ sub })}`, "content-type": "application/json" }, payload: { release, state } });
  t.equal((await reportOf(insider, "0.59.2", "failed")).statusCode, 202);
  t.equal((await reportOf(insider, "0.59.2", "healthy")).statusCode, 202, "the insider's latest on the target: healthy");
  t.equal((await reportOf(outsider, "0.59.2", "failed")).statusCode, 202);
  t.equal((await reportOf(SUBS[0]!, "0.58.1", "failed")).statusCode, 202, "a report on the channel's release");
  t.match((await rollout(h, "stable")).counts, { healthy: 1, failed: 1 }, "counts.healthy and counts.failed from the reports on the target");

  // Controls and their roles.
  assertError(t, await control(h, "stable", "pause", { reason: "watch" }, "viewer"), 403, "ROLE_REQUIRED", undefined, "a viewer cannot pause");
  assertError(t, await control(h, "stable", "pause", {}), 400, "VALIDATION_FAILED", "reason", "a reason is required");
  const paused = await control(h, "stable", "pause", { reason: "looking at dashboards" });
  t.equal(paused.statusCode, 200, paused.body);
  t.match(paused.json(), { changed: true, rollout: { state: "paused", nextStepAt: null } });
  t.match((await control(h, "stable", "pause", { reason: "again" })).json(), { changed: false, rollout: { state: "paused" } }, "pausing a paused rollout changes nothing");
  assertError(t, await control(h, "stable", "advance", { reason: "skip", force: true }), 403, "ROLE_REQUIRED", undefined, "force needs admin");
  const advanced = await control(h, "stable", "advance", { reason: "30 % looks good" });
  t.match(advanced.json(), { changed: true, rollout: { state: "paused", step: 2, percent: 60 } }, "advance from paused: the next step, still paused");
  await h.ctx.scheduler.tick();
  t.match(await rollout(h, "stable"), { state: "paused", step: 2 }, "a paused rollout does not progress");
  t.match((await control(h, "stable", "resume", { reason: "go on" })).json(), { changed: true, rollout: { state: "progressing" } });
  await h.ctx.scheduler.tick();
  t.match(await rollout(h, "stable"), { state: "progressing", step: 3, percent: 100 }, "the scheduler ends a step whose bake passed");
  await h.ctx.scheduler.tick();
  const done = await rollout(h, "stable");
  t.match(done, { state: "completed", step: 3, endedBy: "chartroom-scheduler", nextStepAt: null });
  t.equal((await call(h, "GET", "/channels/stable", { role: "viewer" })).json().release.version, "0.59.2", "completed: the channel is at the target");
  t.equal((await call(h, "GET", "/channels/stable", { role: "viewer" })).json().rollout, null, "and has no active rollout");
  for (const sub of SUBS.slice(0, 10)) t.equal((await polledVersion(h, sub)).version, "0.59.2", `${sub}: the target after completion`);
  assertError(t, await control(h, "stable", "pause", { reason: "late" }), 409, "NO_ACTIVE_ROLLOUT", undefined, "controls after completion");

  const steps = (await history(h, "stable")).filter((e) => e.action === "rollout-step" || e.toVersion === "0.59.2");
  t.same(steps.map((e) => e.action), ["promote", "rollout-step", "rollout-step", "rollout-step"], "history: a row per step, then the promote");
  t.equal(steps[0]!.actor, "release-engineer@example.com", "the promote's actor started the rollout");
  t.match(steps[0]!.reason, new RegExp(`rollout ${r.id} completed: GA of 0.59.2`));
  t.same(await auditActions(h), ["rollout.complete", "rollout.step", "rollout.resume", "rollout.advance", "rollout.pause", "rollout.start"], "audit: one row per change that took effect, newest first");

  const rollouts = (await call(h, "GET", "/channels/stable/rollouts", { role: "viewer" })).json();
  t.equal(rollouts.items.length, 1);
  t.equal(rollouts.items[0].id, r.id);
  assertError(t, await call(h, "GET", "/channels/unstable/rollout", { role: "viewer" }), 404, "ROLLOUT_NOT_FOUND", undefined, "a channel that never had one");
});

await eachProvider(t, "abort, rollback and yank end a rollout; freeze holds it", async (t: Test, provider) => {
  const h = await testApp(t, { provider, ...MANUAL_TICKS });
  const steps = [{ percent: 50, bake: "1s" }, { percent: 100 }];
  t.equal((await promote(h, "stable", { release: "0.59.2", rollout: { steps, salt: "s" } })).statusCode, 202);
  const insider = SUBS.find((s) => inCohort("s", s, 50))!;
  t.equal((await polledVersion(h, insider)).version, "0.59.2");

  // A freeze: no progress, and no resume or advance.
  t.equal((await h.admin("PUT", "/freeze", { reason: "incident" })).statusCode, 200);
  await new Promise((r) => setTimeout(r, 1100));
  await h.ctx.scheduler.tick();
  t.match(await rollout(h, "stable"), { state: "progressing", step: 1 }, "frozen: the bake passed, the step did not end");
  assertError(t, await control(h, "stable", "advance", { reason: "x" }), 423, "FROZEN", undefined, "advance while frozen");
  t.equal((await control(h, "stable", "pause", { reason: "x" })).statusCode, 200, "pause works while frozen");
  assertError(t, await control(h, "stable", "resume", { reason: "x" }), 423, "FROZEN", undefined, "resume while frozen");
  const aborted = await control(h, "stable", "abort", { reason: "bad image" });
  t.equal(aborted.statusCode, 200, "abort works while frozen");
  t.match(aborted.json().rollout, { state: "aborted", endedBy: "release-engineer@example.com", endReason: "bad image" });
  t.equal((await polledVersion(h, insider)).version, "0.58.1", "aborted: the cohort is back on the channel's release");
  t.match((await history(h, "stable"))[0], { action: "rollback", fromVersion: "0.59.2", toVersion: "0.58.1" });
  t.equal((await h.admin("DELETE", "/freeze", { reason: "over" })).statusCode, 200);

  // A rollback during a rollout aborts it; the channel keeps its release.
  t.equal((await promote(h, "stable", { release: "0.59.2", rollout: { steps, salt: "s" } })).statusCode, 202);
  const rb = await call(h, "POST", "/channels/stable/rollback", { body: { reason: "customers report errors" }, role: "release-engineer" });
  t.equal(rb.statusCode, 200, rb.body);
  t.match(await rollout(h, "stable"), { state: "aborted", endReason: "customers report errors" });
  t.equal((await call(h, "GET", "/channels/stable", { role: "viewer" })).json().release.version, "0.58.1", "the rollback kept the channel's release");

  // A yank of the target aborts it.
  t.equal((await promote(h, "stable", { release: "0.59.2", rollout: { steps, salt: "s" } })).statusCode, 202);
  t.equal((await call(h, "POST", "/releases/0.59.2/yank", { body: { reason: "CVE" }, role: "release-engineer" })).statusCode, 200);
  t.match(await rollout(h, "stable"), { state: "aborted", endReason: "release 0.59.2 was yanked: CVE" });
  t.equal((await polledVersion(h, insider)).version, "0.58.1", "nobody is served the yanked release");
  t.equal((await call(h, "GET", "/channels/stable/rollouts", { role: "viewer" })).json().items.length, 3, "three rollouts, newest first");
});

await eachProvider(t, "a rollout's body is validated field by field", async (t: Test, provider) => {
  const h = await testApp(t, { provider, ...MANUAL_TICKS });
  const bad: [string, unknown, string | RegExp][] = [
    ["no steps", { steps: [] }, "rollout.steps"],
    ["percent not rising", { steps: [{ percent: 50 }, { percent: 50 }, { percent: 100 }] }, "rollout.steps.1.percent"],
    ["last not 100", { steps: [{ percent: 10 }, { percent: 50 }] }, "rollout.steps.1.percent"],
    ["percent not an integer", { steps: [{ percent: 2.5 }, { percent: 100 }] }, "rollout.steps.0.percent"],
    ["bad bake", { steps: [{ percent: 5, bake: "2 hours" }, { percent: 100 }] }, "rollout.steps.0.bake"],
    ["bake over a year", { steps: [{ percent: 5, bake: "400d" }, { percent: 100 }] }, "rollout.steps.0.bake"],
    ["unknown field", { steps: [{ percent: 100 }], canary: true }, /^rollout/],
    // Gates (docs/api.md §9), on the rollout and on a step.
    ["onFailure not halt or rollback", { steps: [{ percent: 100 }], onFailure: "ignore" }, "rollout.onFailure"],
    ["reports gate without maxFailedRatio", { steps: [{ percent: 100 }], gates: [{ kind: "reports", minHealthy: 3 }] }, "rollout.gates.0.maxFailedRatio"],
    ["reports gate ratio over 1", { steps: [{ percent: 100 }], gates: [{ kind: "reports", minHealthy: 3, maxFailedRatio: 1.5 }] }, "rollout.gates.0.maxFailedRatio"],
    ["reports gate minHealthy negative", { steps: [{ percent: 100 }], gates: [{ kind: "reports", minHealthy: -1, maxFailedRatio: 0.1 }] }, "rollout.gates.0.minHealthy"],
    ["reports gate minSamples 0", { steps: [{ percent: 100 }], gates: [{ kind: "reports", minHealthy: 1, maxFailedRatio: 0.1, minSamples: 0 }] }, "rollout.gates.0.minSamples"],
    ["unknown gate kind", { steps: [{ percent: 100 }], gates: [{ kind: "datadog" }] }, "rollout.gates.0.kind"],
    ["gate without kind", { steps: [{ percent: 100 }], gates: [{ url: "http://x" }] }, "rollout.gates.0.kind"],
    ["unknown gate field", { steps: [{ percent: 100 }], gates: [{ kind: "webhook", url: "https://hooks.example.com/g", retries: 3 }] }, /^rollout\.gates\.0/],
    ["webhook gate ftp url", { steps: [{ percent: 100 }], gates: [{ kind: "webhook", url: "ftp://hooks.example.com/g" }] }, "rollout.gates.0.url"],
    ["webhook gate url with credentials", { steps: [{ percent: 100 }], gates: [{ kind: "webhook", url: "https://u:p@hooks.example.com/g" }] }, "rollout.gates.0.url"],
    ["webhook gate relative url", { steps: [{ percent: 100 }], gates: [{ kind: "webhook", url: "/g" }] }, "rollout.gates.0.url"],
    ["webhook gate timeout", { steps: [{ percent: 100 }], gates: [{ kind: "webhook", url: "https://hooks.example.com/g", timeout: "2m" }] }, "rollout.gates.0.timeout"],
    ["webhook gate timeout over 60s", { steps: [{ percent: 100 }], gates: [{ kind: "webhook", url: "https://hooks.example.com/g", timeout: "90s" }] }, "rollout.gates.0.timeout"],
    ["prometheus pass without operator", { steps: [{ percent: 100 }], gates: [{ kind: "prometheus", url: "http://prom:9090", query: "up", pass: "0.05" }] }, "rollout.gates.0.pass"],
    ["prometheus pass not a number", { steps: [{ percent: 100 }], gates: [{ kind: "prometheus", url: "http://prom:9090", query: "up", pass: "< lots" }] }, "rollout.gates.0.pass"],
    ["prometheus without query", { steps: [{ percent: 100 }], gates: [{ kind: "prometheus", url: "http://prom:9090", pass: "< 1" }] }, "rollout.gates.0.query"],
    ["a step's gate", { steps: [{ percent: 10, gates: [{ kind: "reports", minHealthy: 1, maxFailedRatio: 0.1 }, { kind: "prometheus", url: "http://prom:9090", query: "up", pass: "=> 1" }] }, { percent: 100 }] }, "rollout.steps.0.gates.1.pass"],
    ["too many gates", { steps: [{ percent: 100 }], gates: Array.from({ length: 11 }, () => ({ kind: "reports", minHealthy: 1, maxFailedRatio: 0 })) }, "rollout.gates"],
  ];
  for (const [name, body, field] of bad) assertError(t, await promote(h, "stable", { release: "0.59.2", rollout: body }), 400, "VALIDATION_FAILED", field, name);
  assertError(t, await promote(h, "beta", { release: "0.58.1", allowDowngrade: true, rollout: { steps: [{ percent: 100 }] } }), 400, "VALIDATION_FAILED", "rollout", "a downgrade with a rollout");
  assertError(t, await promote(h, "beta", { release: "0.58.1", allowDowngrade: true, dryRun: true, rollout: { steps: [{ percent: 100 }] } }), 400, "VALIDATION_FAILED", "rollout", "its dry run is refused the same way");
  const noop = await promote(h, "stable", { release: "0.58.1", rollout: { steps: [{ percent: 100 }] } });
  t.equal(noop.statusCode, 200, "promoting the current release with a rollout: nothing to roll out");
  t.equal(noop.json().changed, false);
  assertError(t, await control(h, "stable", "pause", { reason: "x" }), 409, "NO_ACTIVE_ROLLOUT", undefined, "no rollout to pause");
  assertError(t, await control(h, "nope", "pause", { reason: "x" }), 404, "CHANNEL_NOT_FOUND", undefined, "unknown channel");
  t.same(await auditActions(h), [], "nothing was written");
});

await eachProvider(t, "metrics show active rollouts and the freeze", async (t: Test, provider) => {
  const h = await testApp(t, { provider, ...MANUAL_TICKS });
  const metrics = async () => (await h.app.inject({ method: "GET", url: "/metrics" })).body;
  t.notMatch(await metrics(), /^chartroom_rollout_percent\{/m, "no rollout, no series");
  t.match(await metrics(), /^chartroom_promotions_frozen 0$/m);
  const promotes = async () => Number(/^chartroom_promotions_total\{action="promote"\} (\d+)$/m.exec(await metrics())?.[1] ?? 0);
  const before = await promotes();
  t.equal((await promote(h, "stable", { release: "0.59.2", rollout: { steps: [{ percent: 25, bake: "1h" }, { percent: 100 }] } })).statusCode, 202);
  t.match(await metrics(), /^chartroom_rollout_percent\{channel="stable",release="0.59.2",state="progressing"\} 25$/m);
  t.equal((await control(h, "stable", "pause", { reason: "x" })).statusCode, 200);
  t.match(await metrics(), /^chartroom_rollout_percent\{channel="stable",release="0.59.2",state="paused"\} 25$/m, "the state label follows");
  t.equal((await control(h, "stable", "advance", { reason: "x" })).statusCode, 200);
  t.equal((await control(h, "stable", "resume", { reason: "x" })).statusCode, 200);
  await h.ctx.scheduler.tick();
  t.notMatch(await metrics(), /^chartroom_rollout_percent\{/m, "completed: the series is gone");
  t.equal(await promotes(), before + 1, "the completion counts as one promotion (the start did not)");
  t.equal((await h.admin("PUT", "/freeze", { reason: "x" })).statusCode, 200);
  t.match(await metrics(), /^chartroom_promotions_frozen 1$/m);
});
