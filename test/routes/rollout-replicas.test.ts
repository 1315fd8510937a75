// Two replicas on one PostgreSQL, both running the rollout scheduler
// (docs/api.md §7, src/services/rollout-scheduler.ts): a rollout with 1 s
// bakes takes each step exactly once (one `rollout-step` history row and
// one `rollout.step` audit row per step, one completion, no progression
// failure logged), and a licensee that enters the cohort at a step gets the
// target from both replicas within 1 s of the step's commit. The state
// checks are slowed to 30 s: only the NOTIFY of src/db/state-listener.ts
// can make the second replica in time.
import { createHash } from "node:crypto";
import t, { type Test } from "tap";
import { pgUnavailableReason, stateListeners } from "../helpers/db.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { eventually } from "../helpers/eventually.js";
import { call } from "./admin/fixtures/admin-helpers.js";
import type { RolloutDto } from "../../src/routes/admin/dto/rollouts.js";

const noPg = await pgUnavailableReason();
if (noPg) {
  if (process.env.CI) t.fail(`PostgreSQL is required in CI: ${noPg}`);
  else t.comment(`*** skipped: no PostgreSQL (${noPg}) — the replica rollout test needs it ***`);
}

/** Conditions that are not a promise to users: only a product that never gets there fails. */
const GENEROUS_MS = 30_000;
const TARGET = "0.59.2";
const SALT = "two-replicas";

function inCohort(sub: string, percent: number): boolean {
  const n = createHash("sha256").update(`${SALT}:${sub}`).digest().readBigUInt64BE(0);
  return n * 100n < BigInt(percent) * (1n << 64n);
}

async function served(h: TestApp, license: string): Promise<string | null> {
  const res = await h.poll(license);
  return res.statusCode === 200 ? (JSON.parse(res.body) as { metadata: { version: string } }).metadata.version : null;
}

async function rollout(h: TestApp): Promise<RolloutDto> {
  const res = await call(h, "GET", "/channels/stable/rollout", { role: "viewer" });
  if (res.statusCode !== 200) throw new Error(`GET rollout: ${res.statusCode} ${res.body}`);
  return res.json() as RolloutDto;
}

/** Waits for step `step` (1-based) or a later state; answers when the test saw it (performance.now() of the probe that did). */
async function sawStep(t: Test, h: TestApp, step: number): Promise<number> {
  const t0 = performance.now();
  const seen = await eventually(async () => {
    const r = await rollout(h);
    return r.step >= step || r.state !== "progressing";
  }, { within: GENEROUS_MS, every: 10 });
  t.ok(seen.ok, `step ${step} began: ${seen.summary}`);
  // The commit came before the probe that saw it ended, maybe before it began: counting from its beginning is the stricter bound.
  return t0 + seen.began;
}

t.test("two replicas' schedulers step a rollout exactly once per step; both serve each step within 1 s", { skip: noPg ? "no PostgreSQL" : false }, async (t) => {
  const env = { ROLLOUT_TICK_MS: "200", STATE_CHECK_INTERVAL_MS: "30000" };
  const a = await testApp(t, { provider: "postgresql", env, captureLogs: true });
  const b = await testApp(t, { provider: "postgresql", databaseUrl: a.url, seed: false, env, captureLogs: true });
  const listening = await eventually(async () => (await stateListeners(a.url)) >= 2, { within: GENEROUS_MS, every: 25 });
  t.ok(listening.ok, `both replicas LISTEN: ${listening.summary}`);

  const subs = Array.from({ length: 400 }, (_, i) => `customer-${i}`);
  const enters50 = subs.find((s) => !inCohort(s, 10) && inCohort(s, 50))!;
  const enters100 = subs.find((s) => !inCohort(s, 50))!;
  // Each test app signs with its own key: a license per replica.
  const licenseOf = (h: TestApp, sub: string) => h.license({ sub });

  const start = await call(a, "POST", "/channels/stable/promote", {
    role: "release-engineer",
    body: { release: TARGET, reason: "two replicas", rollout: { steps: [{ percent: 10, bake: "1s" }, { percent: 50, bake: "1s" }, { percent: 100 }], salt: SALT } },
  });
  t.equal(start.statusCode, 202, `202: ${start.body.slice(0, 200)}`);
  const id = (start.json() as RolloutDto).id;
  // Both replicas have cached what these licensees get outside the cohort.
  for (const h of [a, b]) {
    t.equal(await served(h, licenseOf(h, enters50)), "0.58.1", "outside the cohort at 10 %");
    t.equal(await served(h, licenseOf(h, enters100)), "0.58.1", "outside the cohort at 10 %");
  }

  // Besides both schedulers' own ticks, both replicas are asked to tick at once, again and again, until the end.
  let done = false;
  const hammer = (async () => {
    let ticks = 0;
    while (!done) {
      await Promise.all([a.ctx.scheduler.tick(), b.ctx.scheduler.tick()]);
      ticks++;
      await new Promise((r) => setTimeout(r, 5));
    }
    return ticks;
  })();

  for (const [step, sub] of [[2, enters50], [3, enters100]] as const) {
    const from = await sawStep(t, a, step);
    for (const [name, h] of [["A", a], ["B", b]] as const) {
      const license = licenseOf(h, sub);
      const seen = await eventually(async () => (await served(h, license)) === TARGET, { within: 1000, from });
      t.ok(seen.ok, `step ${step}: ${sub} gets the target from replica ${name} within 1 s: ${seen.summary}`);
    }
  }
  const completed = await eventually(async () => (await rollout(b)).state === "completed", { within: GENEROUS_MS, every: 25 });
  t.ok(completed.ok, `completed: ${completed.summary}`);
  done = true;
  t.comment(`${await hammer} extra ticks on both replicas at once`);

  const final = await rollout(a);
  t.match(final, { id, state: "completed", step: 3, percent: 100, endedBy: "chartroom-scheduler" });
  t.equal((await call(b, "GET", "/channels/stable", { role: "viewer" })).json().release.version, TARGET, "the channel is at the target");
  const history = (await call(a, "GET", "/channels/stable/history?limit=200", { role: "viewer" })).json().items as { action: string; reason: string | null }[];
  const ofRollout = history.filter((e) => e.reason?.includes(id));
  t.same(ofRollout.map((e) => e.action), ["promote", "rollout-step", "rollout-step", "rollout-step"], "history: exactly one row per step, then one promote");
  for (const n of [1, 2, 3]) t.equal(ofRollout.filter((e) => e.reason?.includes(`step ${n} of 3`)).length, 1, `one history row for step ${n}`);
  const audit = (await call(a, "GET", "/audit?limit=200", { role: "viewer" })).json().items as { action: string; actor: string; after: { step: number } }[];
  const rolloutAudit = audit.filter((e) => e.action.startsWith("rollout."));
  t.same(rolloutAudit.map((e) => e.action), ["rollout.complete", "rollout.step", "rollout.step", "rollout.start"], "audit: one rollout.step per step begun by the scheduler, one completion");
  t.same(rolloutAudit.filter((e) => e.action === "rollout.step").map((e) => e.after.step), [3, 2], "each step once");
  for (const [name, h] of [["A", a], ["B", b]] as const) {
    const failures = h.logs.filter((l) => /rollout progression failed|WRITE_CONFLICT|DATABASE_BUSY/.test(l));
    t.same(failures, [], `replica ${name} logged no progression failure`);
  }
});
