// Yank with the channels still serving and with rollback (one transaction),
// and POST /api/v1/admin/apply (declarative apply over HTTP, admin only),
// on SQLite and PostgreSQL (docs/api.md §3).
import t from "tap";
import { eachProvider } from "../../helpers/db.js";
import { CHANNELS_DIR, testApp } from "../../helpers/app.js";
import { readDeclarations } from "../../../src/services/apply-channels.js";
import { assertError, call, createRelease, snapshot } from "./fixtures/admin-helpers.js";
import { eventually } from "../../helpers/eventually.js";
import { webhookReceiver } from "../../helpers/webhook-receiver.js";

const yank = (h: Parameters<typeof call>[0], version: string, body: Record<string, unknown>) => call(h, "POST", `/releases/${version}/yank`, { body, role: "release-engineer" });
const promote = (h: Parameters<typeof call>[0], channel: string, release: string) => call(h, "POST", `/channels/${channel}/promote`, { body: { release }, role: "release-engineer" });

await eachProvider(t, "yank answers the channels still serving; with rollback each is rolled back, all or nothing", async (t, provider) => {
  const h = await testApp(t, { provider });
  await createRelease(t, h, "0.61.0");
  for (const c of ["beta", "stable"]) t.equal((await promote(h, c, "0.61.0")).statusCode, 200, `${c} at 0.61.0`);
  // A channel with no earlier release: its rollback is refused, and so the whole yank.
  t.equal((await call(h, "POST", "/channels", { body: { name: "edge" } })).statusCode, 201);
  t.equal((await promote(h, "edge", "0.61.0")).statusCode, 200);
  // A rollout of it: aborted by the yank.
  const staged = await call(h, "POST", "/channels/unstable/promote", { body: { release: "0.61.0", rollout: { steps: [{ percent: 10, bake: "1h" }, { percent: 100 }] } }, role: "release-engineer" });
  t.equal(staged.statusCode, 202, staged.body);

  const before = await snapshot(h);
  const refused = assertError(t, await yank(h, "0.61.0", { reason: "data loss", rollback: true }), 409, "PROMOTION_REFUSED", "rollback");
  t.match(refused.message, /channel edge cannot be rolled back: channel edge has no earlier release to roll back to; yank without rollback, then promote another release to edge/);
  t.same(await snapshot(h), before, "one transaction: nothing changed, not the other channels' rollbacks nor the yank");
  t.equal((await call(h, "GET", "/channels/unstable/rollout", { role: "viewer" })).json().state, "progressing", "nor the rollout's abort");

  t.equal((await call(h, "POST", "/channels/edge/promote", { body: { release: "0.60.0", allowDowngrade: true } })).statusCode, 200, "edge moves off 0.61.0");
  const res = await yank(h, "0.61.0", { reason: "data loss", rollback: true });
  t.equal(res.statusCode, 200, res.body);
  const body = res.json();
  t.equal(body.version, "0.61.0");
  t.equal(body.yanked, true);
  t.same(body.serving, [], "nothing serves it any more");
  t.same(body.rolledBack.map((m: { channel: string; action: string; from: { version: string }; to: { version: string } }) => [m.channel, m.action, m.from.version, m.to.version]), [
    ["beta", "rollback", "0.61.0", "0.59.2"],
    ["stable", "rollback", "0.61.0", "0.58.1"],
  ]);
  t.same(body.abortedRollouts.map((a: { channel: string }) => a.channel), ["unstable"]);
  for (const [c, v] of [["beta", "0.59.2"], ["stable", "0.58.1"], ["unstable", "0.60.0"]]) t.equal(JSON.parse((await h.poll(h.license({ channel: c }))).body).metadata.version, v, `${c} serves ${v}`);
  const history = (await call(h, "GET", "/channels/stable/history", { role: "viewer" })).json().items[0];
  t.match(history, { action: "rollback", fromVersion: "0.61.0", toVersion: "0.58.1", actor: "release-engineer@example.com", reason: "release 0.61.0 was yanked: data loss" });
  const audit = (await call(h, "GET", "/audit?limit=10", { role: "viewer" })).json().items.map((a: { action: string; target: string }) => `${a.action} ${a.target}`);
  t.same(audit.slice(0, 4), ["release.yank 0.61.0", "channel.rollback stable", "channel.rollback beta", "rollout.abort unstable"], "audited in the same transaction");
});

await eachProvider(t, "yank without rollback: the channels that keep serving it", async (t, provider) => {
  const h = await testApp(t, { provider });
  const res = await yank(h, "0.59.2", { reason: "cve" });
  t.equal(res.statusCode, 200, res.body);
  t.same(res.json().serving, ["beta"]);
  t.same(res.json().rolledBack, []);
  t.equal(JSON.parse((await h.poll(h.license({ channel: "beta" }))).body).metadata.version, "0.59.2", "beta still serves it (decision 8)");
  // stable has held no release before 0.58.1: nothing to roll back to, so the yank is refused whole.
  const before = await snapshot(h);
  assertError(t, await yank(h, "0.58.1", { reason: "old", rollback: true }), 409, "PROMOTION_REFUSED", "rollback");
  t.same(await snapshot(h), before, "nothing changed");
  t.equal((await yank(h, "0.58.1", { reason: "old" })).json().serving.join(), "stable", "without rollback it is yanked, stable still serving it");
});

/** The sample channels/ as the JSON body of POST /apply. */
function sampleBody() {
  const d = readDeclarations(CHANNELS_DIR);
  return {
    channels: d.channels.map((c) => ({ ...c.input, ...(c.release ? { release: c.release } : {}) })),
    releases: d.releases.map((r) => r.input),
  };
}

await eachProvider(t, "POST /apply: admin only; the same plan as chartroom apply, audited as the token's sub", async (t, provider) => {
  const h = await testApp(t, { provider, seed: false });
  for (const role of ["viewer", "release-engineer"] as const) assertError(t, await call(h, "POST", "/apply", { body: sampleBody(), role }), 403, "ROLE_REQUIRED", undefined, role);
  t.equal((await call(h, "POST", "/apply", { body: sampleBody(), authorization: null })).statusCode, 401);
  t.equal((await h.ctx.store.channels.list()).length, 0, "nothing applied");

  const dry = await call(h, "POST", "/apply", { body: { ...sampleBody(), dryRun: true }, sub: "ci@example.com" });
  t.equal(dry.statusCode, 200, dry.body);
  t.equal(dry.json().dryRun, true);
  t.equal(dry.json().steps.length, 9);
  t.equal((await h.ctx.store.channels.list()).length, 0, "a dry run writes nothing");
  const res = await call(h, "POST", "/apply", { body: sampleBody(), sub: "ci@example.com" });
  t.equal(res.statusCode, 200, res.body);
  t.same(res.json().steps, dry.json().steps, "the plan is what it did");
  t.equal(res.json().actor, "ci@example.com");
  t.same((await h.ctx.store.channels.list()).map((c) => [c.name, c.policy]), [["beta", { upstream: "unstable" }], ["stable", { upstream: "beta" }], ["unstable", {}]]);
  const actors = new Set((await h.ctx.store.audit.list({ limit: 100 })).items.map((a) => a.actor));
  t.same([...actors], ["ci@example.com"], "audited as the token's sub");
  t.same((await call(h, "POST", "/apply", { body: sampleBody() })).json().steps, [], "idempotent");
  assertError(t, await call(h, "POST", "/apply", { body: { ...sampleBody(), extra: 1 } }), 400, "VALIDATION_FAILED", "extra");
  assertError(t, await call(h, "POST", "/apply", { body: { channels: [{ name: "x" }, { name: "x" }] } }), 400, "VALIDATION_FAILED", "channels.1.name");
});

await eachProvider(t, "POST /apply dry run: the whole plan, every conflict, the values diffs; the real apply stops at the first", async (t, provider) => {
  const h = await testApp(t, { provider, samplePolicies: true });
  const body = sampleBody();
  const ch = (name: string) => body.channels.find((c) => c.name === name)!;
  body.releases.find((r) => r.version === "0.59.2")!.notes = "edited";
  ch("unstable").release = "0.58.1"; // a downgrade
  ch("stable").release = "0.60.0"; // not beta's release
  ch("beta").defaultValues = { ...ch("beta").defaultValues, ingress: { class: "traefik" } };
  const before = await snapshot(h);
  const dry = await call(h, "POST", "/apply", { body: { ...body, dryRun: true } });
  t.equal(dry.statusCode, 200, dry.body);
  const plan = dry.json();
  t.same(plan.conflicts.map((c: { file: string; code: string; field: string }) => [c.file, c.code, c.field]), [
    ["releases/0.59.2.yaml", "DECLARATION_CONFLICT", "releases/0.59.2.yaml: notes"],
    ["unstable.yaml", "DOWNGRADE_REFUSED", "unstable.yaml: release"],
    ["stable.yaml", "POLICY_REFUSED", "stable.yaml: release"],
  ]);
  t.match(plan.conflicts[2].message, /promote 0\.60\.0 --to beta first/);
  const update = plan.steps.find((s: { action: string; target: string }) => s.action === "update-channel" && s.target === "beta");
  t.match(update, { detail: "update defaultValues of beta" });
  t.same(update.valuesDiff.filter((o: { op: string }) => o.op !== "test"), [{ op: "replace", path: "/ingress/class", value: "traefik" }], "the values diff");
  t.same(await snapshot(h), before, "nothing written");
  const real = await call(h, "POST", "/apply", { body });
  assertError(t, real, 409, "DECLARATION_CONFLICT", "releases/0.59.2.yaml: notes");
  t.same(await snapshot(h), before, "nothing written");
});

await eachProvider(t, "declared policies: a chain moves in one apply, upstream first; a bad upstream is named by file", async (t, provider) => {
  const h = await testApp(t, { provider, samplePolicies: true });
  await createRelease(t, h, "0.61.0");
  const body = sampleBody();
  for (const c of body.channels) c.release = "0.61.0";
  const res = await call(h, "POST", "/apply", { body });
  t.equal(res.statusCode, 200, res.body);
  t.same(res.json().steps.map((s: { action: string; target: string }) => `${s.action} ${s.target}`), ["move-channel unstable", "move-channel beta", "move-channel stable"], "each after its upstream");
  const bad = body;
  bad.channels.find((c) => c.name === "unstable")!.policy = { upstream: "stable" };
  const before = await snapshot(h);
  const dry = (await call(h, "POST", "/apply", { body: { ...bad, dryRun: true } })).json();
  t.equal(dry.conflicts.length, 1, JSON.stringify(dry.conflicts));
  t.match(dry.conflicts[0], { file: "unstable.yaml", code: "VALIDATION_FAILED", field: "unstable.yaml: policy.upstream", message: /makes a cycle \(unstable → stable → beta → unstable\)/ });
  assertError(t, await call(h, "POST", "/apply", { body: bad }), 400, "VALIDATION_FAILED", "unstable.yaml: policy.upstream");
  t.same(await snapshot(h), before, "nothing written");
});

await eachProvider(t, "a yank's rollbacks notify webhooks as rollbacks do", async (t, provider) => {
  const h = await testApp(t, { provider, env: { WEBHOOK_TICK_MS: "50", WEBHOOK_RETRY_BASE_MS: "100", WEBHOOK_RETRY_MAX_MS: "400" } });
  const rx = await webhookReceiver(t);
  t.equal((await call(h, "POST", "/webhooks", { body: { url: rx.url, secret: "a-secret-of-sixteen+", events: ["channel.rolled-back", "release.yanked"] } })).statusCode, 201);
  await createRelease(t, h, "0.61.0");
  for (const c of ["beta", "stable"]) t.equal((await promote(h, c, "0.61.0")).statusCode, 200);
  t.equal((await yank(h, "0.61.0", { reason: "data loss", rollback: true })).statusCode, 200);
  const got = await eventually(() => (rx.received.length >= 3 ? rx.received : undefined), { within: 20_000, every: 25 });
  t.ok(got.ok, `three events delivered: ${got.summary}`);
  t.same(rx.received.map((r) => `${String(r.json.type)} ${String(r.json.subject)}`).sort(), [
    "io.chartroom.channel.rolled-back channels/beta",
    "io.chartroom.channel.rolled-back channels/stable",
    "io.chartroom.release.yanked releases/0.61.0",
  ]);
  const stable = rx.received.find((r) => r.json.subject === "channels/stable")!;
  t.match(stable.json.data, { channel: "stable", from: "0.61.0", to: "0.58.1", action: "rollback", reason: "release 0.61.0 was yanked: data loss", by: "release-engineer@example.com" });
});

await eachProvider(t, "yank with rollback of a channel that has a rollout of another release: the rollout is aborted, then the channel rolled back", async (t, provider) => {
  const h = await testApp(t, { provider });
  await createRelease(t, h, "0.65.0");
  await createRelease(t, h, "0.66.0");
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.65.0", reason: "t" }, "release-engineer")).statusCode, 200, "stable at 0.65.0");
  const started = await h.admin("POST", "/channels/stable/promote", { release: "0.66.0", reason: "t", rollout: { steps: [{ percent: 10, bake: "1h" }, { percent: 100 }] } }, "release-engineer");
  t.equal(started.statusCode, 202, "a rollout of 0.66.0 on stable");
  const res = await h.admin("POST", "/releases/0.65.0/yank", { reason: "data loss", rollback: true }, "release-engineer");
  t.equal(res.statusCode, 200, res.body);
  const body = res.json() as { rolledBack: { channel: string; to: { version: string } }[]; abortedRollouts: { channel: string }[]; serving: string[] };
  t.same(body.abortedRollouts.map((a) => a.channel), ["stable"], "the other release's rollout is aborted, as a rollback does");
  t.same(body.rolledBack.map((m) => [m.channel, m.to.version]), [["stable", "0.58.1"]], "then stable is rolled back");
  t.same(body.serving, []);
  const rollout = (await h.admin("GET", "/channels/stable/rollout", undefined, "viewer")).json() as { state: string };
  t.equal(rollout.state, "aborted");
});
