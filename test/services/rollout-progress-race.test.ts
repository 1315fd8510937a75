// The scheduler's step against another writer of the channel in the middle
// of its transaction, on PostgreSQL (src/services/rollout-service.ts
// progressOne). A writer that does not take the progression lock (a PATCH of
// the channel) commits right after the step's transaction read the rollout:
// the step's write is refused, because the channel's row version, read
// before the rollout, no longer matches, and the step is decided again from
// fresh reads. A rollback (which aborts the
// rollout) does take the lock: asked at that point, it waits for the step to
// commit and then aborts the rollout at its new step. The service runs over
// the app's real store; only the rollout read is wrapped, to start the other
// writer at that exact point (on its own connection, through the HTTP API).
import t, { type Test } from "tap";
import { pgUnavailableReason } from "../helpers/db.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { call } from "../routes/admin/fixtures/admin-helpers.js";
import { rolloutService } from "../../src/services/rollout-service.js";
import type { Store } from "../../src/repositories/store.js";

const noPg = await pgUnavailableReason();
if (noPg) {
  if (process.env.CI) t.fail(`PostgreSQL is required in CI: ${noPg}`);
  else t.comment(`*** skipped: no PostgreSQL (${noPg}) ***`);
}

/** A store whose rollout read, the first time, runs `during` (another writer, through the HTTP API) before answering; `attempts` counts the transactions run. */
function racingStore(store: Store, during: () => Promise<void>): Store & { attempts: number } {
  let done = false;
  const out = {
    ...store,
    attempts: 0,
    transaction: (fn, opts) =>
      store.transaction(
        (repos) => {
          out.attempts++;
          return fn({
            ...repos,
            rollouts: {
              ...repos.rollouts,
              async activeOf(channelId: string) {
                const r = await repos.rollouts.activeOf(channelId);
                if (!done) {
                  done = true;
                  await during();
                }
                return r;
              },
            },
          });
        },
        opts,
      ),
  } as Store & { attempts: number };
  return out;
}

async function startRollout(t: Test, h: TestApp): Promise<string> {
  const start = await call(h, "POST", "/channels/stable/promote", { role: "release-engineer", body: { release: "0.59.2", rollout: { steps: [{ percent: 50, bake: "0s" }, { percent: 100, bake: "1h" }] } } });
  t.equal(start.statusCode, 202, "a rollout whose first step is due at once");
  return (start.json() as { id: string }).id;
}

async function auditOf(h: TestApp): Promise<string[]> {
  return ((await call(h, "GET", "/audit?limit=50", { role: "viewer" })).json().items as { action: string }[]).map((e) => e.action).filter((a) => a.startsWith("rollout."));
}

t.test("a writer without the lock commits while the scheduler's step is in flight: that write is refused and the step decided again", { skip: noPg ? "no PostgreSQL" : false }, async (t) => {
  // The app's own scheduler stays out of the way (its first tick is a minute away).
  const h = await testApp(t, { provider: "postgresql", env: { ROLLOUT_TICK_MS: "60000" } });
  const id = await startRollout(t, h);
  let patched = 0;
  const racing = racingStore(h.ctx.store, async () => {
    patched = (await call(h, "PATCH", "/channels/stable", { role: "admin", body: { description: "changed mid-step" } })).statusCode;
  });
  const stepped = await rolloutService(racing).progressDue();
  t.equal(patched, 200, "the PATCH committed in the middle of the step's transaction");
  t.equal(racing.attempts, 2, "the first attempt's write was refused by the row version (it read the channel before the PATCH), the second read again");
  t.equal(stepped.length, 1, "and stepped the rollout once");
  t.match((await call(h, "GET", "/channels/stable/rollout", { role: "viewer" })).json(), { id, state: "progressing", step: 2 });
  t.same(await auditOf(h), ["rollout.step", "rollout.start"], "audit: exactly one rollout.step");
  t.equal((await call(h, "GET", "/channels/stable", { role: "viewer" })).json().description, "changed mid-step", "the PATCH is kept");
});

t.test("a rollback asked while the scheduler's step is in flight waits for it, then aborts the rollout", { skip: noPg ? "no PostgreSQL" : false }, async (t) => {
  const h = await testApp(t, { provider: "postgresql", env: { ROLLOUT_TICK_MS: "60000" } });
  const id = await startRollout(t, h);
  let rollback: Promise<number> | undefined;
  const svc = rolloutService(
    racingStore(h.ctx.store, async () => {
      // Not awaited: it waits for this transaction's progression lock.
      rollback = call(h, "POST", "/channels/stable/rollback", { role: "release-engineer", body: { reason: "customers report errors" } }).then((r) => r.statusCode);
      await new Promise((r) => setTimeout(r, 300));
    }),
  );
  t.equal((await svc.progressDue()).length, 1, "the step committed");
  t.equal(await rollback, 200, "then the rollback went through");
  t.match((await call(h, "GET", "/channels/stable/rollout", { role: "viewer" })).json(), { id, state: "aborted", step: 2 }, "aborted at the step it had reached");
  const history = ((await call(h, "GET", "/channels/stable/history?limit=50", { role: "viewer" })).json().items as { action: string; reason: string | null }[]).filter((e) => e.reason?.includes(id));
  t.same(history.map((e) => e.action), ["rollback", "rollout-step", "rollout-step"], "history: step 1, step 2, then the rollback");
  t.same(await auditOf(h), ["rollout.abort", "rollout.step", "rollout.start"], "audit: one row each, in order");
  t.equal((await call(h, "GET", "/channels/stable", { role: "viewer" })).json().rollout, null, "the channel has no active rollout");
});
