// Declarative apply of a channel file with `rollout` (docs/api.md §5 and
// §7), on SQLite and PostgreSQL: it starts the rollout exactly as the
// promote route would (history, audit, the polls split by the cohort), a
// second apply is a no-op, a dry run writes nothing, an active rollout of
// another release and an aborted rollout of the declared one are refused
// as a whole, `rollout` without `release` is a file error, and the first
// boot starts a declared rollout on an empty database.
import { createHash } from "node:crypto";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import t, { type Test } from "tap";
import { prepareDatabase } from "../../src/boot.js";
import { loadConfig } from "../../src/config.js";
import { createContext } from "../../src/context.js";
import { migrate } from "../../src/db/migrate.js";
import { eachProvider, freshDatabase, tempDir } from "../helpers/db.js";
import { ADMIN_SECRET, testApp, withoutPolicies, type TestApp } from "../helpers/app.js";
import { call } from "../routes/admin/fixtures/admin-helpers.js";

const actor = { sub: "test:apply" };

/** The cohort, computed here without Chartroom's code: SHA-256(salt:sub), first 8 bytes big-endian, below p %. */
function inCohort(salt: string, sub: string, percent: number): boolean {
  const n = createHash("sha256").update(`${salt}:${sub}`).digest().readBigUInt64BE(0);
  return n * 100n < BigInt(percent) * (1n << 64n);
}

/** Everything apply could write: rows of each kind, and where each channel is. */
async function counts(h: TestApp) {
  const s = h.ctx.store;
  const channels = await s.channels.list();
  let events = 0;
  let rollouts = 0;
  for (const c of channels) {
    events += (await s.events.allOf(c.id)).length;
    rollouts += (await s.rollouts.list(c.id, { limit: 100 })).items.length;
  }
  return {
    channels: channels.length,
    releases: (await s.releases.all()).length,
    audit: (await s.audit.list({ limit: 1000 })).items.length,
    events,
    rollouts,
    at: channels.map((c) => `${c.name}:${c.releaseId}:${c.rowVersion}:${c.description}`).sort(),
  };
}

/** A copy of the sample channels/ whose stable.yaml declares `release` and `rollout` as given (YAML lines). */
function channelsWith(t: Test, stable: string): string {
  const dir = join(tempDir(t), "channels");
  // The samples without their policies: these tests are about rollouts (test/routes/admin/yank-apply.test.ts applies them).
  cpSync(withoutPolicies(tempDir(t)), dir, { recursive: true });
  const file = join(dir, "stable.yaml");
  writeFileSync(file, readFileSync(file, "utf8").replace("release: 0.58.1\n", stable));
  return dir;
}

const ROLLOUT = "release: 0.59.2\nrollout:\n  steps: [{percent: 30, bake: 1h}, {percent: 60}, {percent: 100}]\n  include: [vip-canary]\n  salt: s-apply\n";

async function rolloutOf(h: TestApp, channel = "stable") {
  const res = await call(h, "GET", `/channels/${channel}/rollout`, { role: "viewer" });
  return { status: res.statusCode, body: res.json() };
}

async function polled(h: TestApp, sub: string): Promise<string> {
  const res = await h.poll(h.license({ sub, channel: "stable" }));
  if (res.statusCode !== 200) throw new Error(`poll ${sub}: ${res.statusCode} ${res.body}`);
  return (res.json() as { metadata: { version: string } }).metadata.version;
}

/** The refusal: thrown by a real apply, the first of a dry run's conflicts (a dry run lists them all). */
function failure(p: Promise<unknown>): Promise<{ code?: string; statusCode?: number; field?: string; message: string } | null> {
  return p.then(
    (r) => (r as { conflicts?: { code: string; statusCode: number; field?: string; message: string }[] }).conflicts?.[0] ?? null,
    (e: { code?: string; statusCode?: number; field?: string; message: string }) => e,
  );
}

const SUBS = Array.from({ length: 40 }, (_, i) => `customer-${i}`);

await eachProvider(t, "apply with a rollout starts it as a promotion would; a second apply is a no-op; a dry run writes nothing", async (t, provider) => {
  const h = await testApp(t, { provider });
  const dir = channelsWith(t, ROLLOUT);

  const before = await counts(h);
  const plan = await h.ctx.declarative.apply(dir, actor, { dryRun: true });
  t.match(plan.steps, [{ action: "start-rollout", target: "stable", file: "stable.yaml", detail: "stable: 0.58.1 → 0.59.2 in 3 steps 30 %, 60 %, 100 %" }], "the plan: one start-rollout");
  t.same(plan.notes, []);
  t.same(await counts(h), before, "the dry run wrote nothing");
  t.equal((await rolloutOf(h)).status, 404, "and started no rollout");

  const real = await h.ctx.declarative.apply(dir, actor);
  t.same(real.steps, plan.steps, "the real apply does exactly the plan");
  const r = await rolloutOf(h);
  t.equal(r.status, 200);
  t.match(r.body, { channel: "stable", release: { version: "0.59.2" }, previous: { version: "0.58.1" }, state: "progressing", step: 1, percent: 30, include: ["vip-canary"], exclude: [], salt: "s-apply", startedBy: "test:apply", reason: "declared in stable.yaml", gates: [] });
  t.same(r.body.steps, [{ percent: 30, bake: "1h" }, { percent: 60, bake: "0s" }, { percent: 100, bake: "0s" }]);
  t.equal((await call(h, "GET", "/channels/stable", { role: "viewer" })).json().release.version, "0.58.1", "the channel's release has not moved");

  // The polls split by the exact cohort.
  let inside = 0;
  for (const sub of [...SUBS, "vip-canary"]) {
    const want = sub === "vip-canary" || inCohort("s-apply", sub, 30);
    if (want) inside++;
    t.equal(await polled(h, sub), want ? "0.59.2" : "0.58.1", `${sub}: ${want ? "in" : "outside"} the cohort`);
  }
  t.ok(inside > 3 && inside < 30, `a real split (${inside} of ${SUBS.length + 1})`);

  // The rows a promotion with a rollout writes, by apply's actor.
  const history = (await call(h, "GET", "/channels/stable/history?limit=50", { role: "viewer" })).json().items as { action: string; actor: string; toVersion: string }[];
  t.match(history[0], { action: "rollout-step", actor: "test:apply", toVersion: "0.59.2" });
  const audit = (await call(h, "GET", "/audit?limit=200", { role: "viewer" })).json().items as { action: string; actor: string; target: string }[];
  t.match(audit[0], { action: "rollout.start", actor: "test:apply", target: "stable" });
  const after = await counts(h);
  t.equal(after.events, before.events + 1, "one history row");
  t.equal(after.audit, before.audit + 1, "one audit row");
  t.equal(after.rollouts, 1);

  // Again: nothing, dry run or not.
  const again = await h.ctx.declarative.apply(dir, actor);
  t.same(again, { dryRun: false, steps: [], notes: [], conflicts: [] }, "a second apply changes nothing");
  t.same((await h.ctx.declarative.apply(dir, actor, { dryRun: true })).steps, []);
  t.same(await counts(h), after, "no new history, audit or rollout row");

  // Another declaration of the running rollout: a note, nothing changed.
  const other = channelsWith(t, ROLLOUT.replace("{percent: 30, bake: 1h}", "{percent: 10, bake: 1h}").replace("include: [vip-canary]", "include: []"));
  const noted = await h.ctx.declarative.apply(other, actor);
  t.same(noted.steps, []);
  t.equal(noted.notes.length, 1);
  t.match(noted.notes[0], { target: "stable", file: "stable.yaml", detail: /is progressing at step 1 of 3 \(30 %\); stable\.yaml declares another steps \(running 30 % for 1h, 60 %, 100 %; declared 10 % for 1h, 60 %, 100 %\), include .*apply does not change a running rollout/ });
  const plain = channelsWith(t, "release: 0.59.2\n");
  t.match((await h.ctx.declarative.apply(plain, actor)).notes, [{ detail: /declares no rollout/ }], "a file without rollout: a note too");
  t.same(await counts(h), after, "the notes wrote nothing");
  t.match((await rolloutOf(h)).body, { id: r.body.id, steps: [{ percent: 30 }, { percent: 60 }, { percent: 100 }], include: ["vip-canary"] }, "the running rollout is as it was");

  // Completed: the channel is at the declared release, and apply finds it in force.
  // (Advanced by hand; the scheduler may end a 0s step first, so until completed.)
  for (let i = 0; i < 3 && (await rolloutOf(h)).body.state !== "completed"; i++) await call(h, "POST", "/channels/stable/rollout/advance", { body: { reason: "go" }, role: "release-engineer" });
  t.match((await rolloutOf(h)).body, { state: "completed" });
  const done = await counts(h);
  t.same((await h.ctx.declarative.apply(dir, actor)).steps, [], "at the declared release: nothing");
  t.same(await counts(h), done);
});

await eachProvider(t, "an active rollout of another release: 409 ROLLOUT_IN_PROGRESS, nothing of the apply written", async (t, provider) => {
  const h = await testApp(t, { provider });
  const started = await call(h, "POST", "/channels/stable/promote", { body: { release: "0.59.2", rollout: { steps: [{ percent: 10, bake: "1h" }, { percent: 100 }] } }, role: "release-engineer" });
  t.equal(started.statusCode, 202, started.body);
  // Other changes that would go through alone: a new release, a changed description.
  const dir = channelsWith(t, "release: 0.60.0\nrollout:\n  steps: [{percent: 50}, {percent: 100}]\n");
  writeFileSync(join(dir, "releases", "0.61.0.yaml"), "version: 0.61.0\nchart: {url: https://charts.wandb.ai, name: operator-wandb, version: 0.20.0}\n");
  const beta = join(dir, "beta.yaml");
  writeFileSync(beta, readFileSync(beta, "utf8").replace("Release candidates", "Candidates"));
  const before = await counts(h);
  for (const dryRun of [true, false]) {
    const err = await failure(h.ctx.declarative.apply(dir, actor, { dryRun }));
    t.equal(err?.code, "ROLLOUT_IN_PROGRESS", `dry run ${dryRun}: the conflict of a move`);
    t.equal(err?.statusCode, 409);
    t.equal(err?.field, "stable.yaml: release");
    t.match(err?.message, /channel stable has an active rollout/);
  }
  // The same without `rollout` in the file: a move, refused the same way.
  t.match(await failure(h.ctx.declarative.apply(channelsWith(t, "release: 0.60.0\n"), actor)), { code: "ROLLOUT_IN_PROGRESS", field: "stable.yaml: release" });
  t.same(await counts(h), before, "nothing written");
  t.equal(await h.ctx.store.releases.findByRef("0.61.0"), null, "not even the new release");
});

await eachProvider(t, "the last rollout of the declared release was aborted: refused, naming it, until a person goes on", async (t, provider) => {
  const h = await testApp(t, { provider });
  const dir = channelsWith(t, ROLLOUT);
  await h.ctx.declarative.apply(dir, actor);
  const abort = await call(h, "POST", "/channels/stable/rollout/abort", { body: { reason: "bad image" }, role: "release-engineer" });
  t.equal(abort.statusCode, 200, abort.body);
  const aborted = abort.json().rollout as { id: string; endedAt: string };
  const before = await counts(h);
  for (const [what, d] of [["with rollout", dir], ["without rollout", channelsWith(t, "release: 0.59.2\n")]] as const) {
    for (const dryRun of [true, false]) {
      const err = await failure(h.ctx.declarative.apply(d, actor, { dryRun }));
      t.equal(err?.code, "DECLARATION_CONFLICT", `${what}, dry run ${dryRun}: code`);
      t.equal(err?.statusCode, 409);
      t.equal(err?.field, "stable.yaml: release");
      t.match(err?.message, `the last rollout of 0.59.2 on channel stable (${aborted.id}) was aborted at ${aborted.endedAt} by release-engineer@example.com (reason: bad image); apply does not start it again.`);
      t.match(err?.message, /Declare another release in stable\.yaml, or promote 0\.59\.2 by hand/);
    }
  }
  t.same(await counts(h), before, "nothing written");
  for (const sub of SUBS.slice(0, 5)) t.equal(await polled(h, sub), "0.58.1", `${sub}: still on the channel's release`);

  // Declaring another release goes on.
  t.same((await h.ctx.declarative.apply(channelsWith(t, "release: 0.60.0\nrollout:\n  steps: [{percent: 100}]\n"), actor, { dryRun: true })).steps.map((s) => s.detail), ["stable: 0.58.1 → 0.60.0 in 1 step 100 %"]);
  // So does a promotion by hand: apply then finds the rollout in progress.
  t.equal((await call(h, "POST", "/channels/stable/promote", { body: { release: "0.59.2", rollout: { steps: [{ percent: 30, bake: "1h" }, { percent: 60 }, { percent: 100 }], include: ["vip-canary"], salt: "s-apply" } }, role: "release-engineer" })).statusCode, 202);
  t.same(await h.ctx.declarative.apply(dir, actor), { dryRun: false, steps: [], notes: [], conflicts: [] });
});

await eachProvider(t, "apply that would start a rollout during a freeze: 423 FROZEN, nothing written", async (t, provider) => {
  const h = await testApp(t, { provider });
  t.equal((await h.admin("PUT", "/freeze", { reason: "incident 4711" })).statusCode, 200);
  const before = await counts(h);
  const err = await failure(h.ctx.declarative.apply(channelsWith(t, ROLLOUT), actor));
  t.equal(err?.code, "FROZEN");
  t.match(err?.message, /apply starting a rollout of 0\.59\.2 on channel stable \(declared in stable\.yaml\)/);
  t.same(await counts(h), before);
});

await eachProvider(t, "rollout without release, and a bad rollout: file errors naming the file and field", async (t, provider) => {
  const h = await testApp(t, { provider });
  const before = await counts(h);
  const cases: [string, string, RegExp][] = [
    ["rollout:\n  steps: [{percent: 100}]\n", "stable.yaml: rollout", /needs release/],
    ["release: 0.59.2\nrollout:\n  steps: [{percent: 50}, {percent: 40}, {percent: 100}]\n", "stable.yaml: rollout.steps.1.percent", /greater than the step before/],
    ["release: 0.59.2\nrollout:\n  steps: [{percent: 50}]\n", "stable.yaml: rollout.steps.0.percent", /last step must be 100/],
    ["release: 0.59.2\nrollout:\n  steps: [{percent: 100}]\n  gates: [{kind: reports, minHealthy: 1}]\n", "stable.yaml: rollout.gates.0.maxFailedRatio", /number/],
    ["release: 0.59.2\nrollout:\n  steps: [{percent: 100}]\n  gates: [{kind: prometheus, url: 'http://prom:9090', query: up, pass: '~ 1'}]\n", "stable.yaml: rollout.gates.0.pass", /operator/],
    ["release: 0.59.2\nrollout:\n  steps: [{percent: 100}]\n  onFailure: ignore\n", "stable.yaml: rollout.onFailure", /halt/],
  ];
  for (const [stable, field, reason] of cases) {
    const err = await failure(h.ctx.declarative.apply(channelsWith(t, stable), actor));
    t.equal(err?.code, "VALIDATION_FAILED", `${field}: code`);
    t.equal(err?.statusCode, 400);
    t.equal(err?.field, field);
    t.match(err?.message, reason, `${field}: reason`);
  }
  t.same(await counts(h), before, "nothing written");
});

await eachProvider(t, "the first boot starts a rollout declared in channels/, freeze or not", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  const dir = channelsWith(t, ROLLOUT);
  const config = loadConfig({ DATABASE_URL: url, DATA_DIR: tempDir(t), CHANNELS_DIR: dir, ADMIN_JWT_SECRET: ADMIN_SECRET, LOG_LEVEL: "silent" });
  const log = pino({ level: "silent" });
  const ctx = await createContext(config, log);
  t.teardown(() => ctx.stop());
  await migrate(url);
  // A freeze set before any channel existed: the first boot serves nobody yet (docs/api.md §7).
  await ctx.freeze.freeze({ reason: "before launch" }, { sub: "admin@example.com" });
  await prepareDatabase(ctx, log);
  const stable = await ctx.store.channels.findByName("stable");
  t.equal(stable?.releaseId, null, "stable has no release until the rollout completes");
  const r = await ctx.store.rollouts.activeOf(stable!.id);
  t.match(r, { state: "progressing", step: 0, previousReleaseId: null, salt: "s-apply", startedBy: "system:first-boot", include: ["vip-canary"] });
  const beta = await ctx.store.channels.findByName("beta");
  t.ok(beta?.releaseId, "the other channels moved at once");
  const audit = (await ctx.store.audit.list({ limit: 100 })).items.map((a) => a.action);
  t.ok(audit.includes("rollout.start"), "rollout.start audited");
});
