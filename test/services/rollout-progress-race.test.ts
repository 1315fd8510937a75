// The scheduler's step against a change committed in the middle of its
// transaction, on PostgreSQL (src/services/rollout-service.ts progressOne):
// a rollback of the channel (which aborts its rollout, without the
// progression lock) commits right after the step's transaction read the
// rollout. The step must then not be written: the channel's row version,
// read before the rollout, no longer matches. The service runs over the
// app's real store; only the rollout read is wrapped, to commit the rollback
// at that exact point (on its own connection, through the HTTP API).
import t from "tap";
import { pgUnavailableReason } from "../helpers/db.js";
import { testApp } from "../helpers/app.js";
import { call } from "../routes/admin/fixtures/admin-helpers.js";
import { rolloutService } from "../../src/services/rollout-service.js";
import type { Store } from "../../src/repositories/store.js";

const noPg = await pgUnavailableReason();
if (noPg) {
  if (process.env.CI) t.fail(`PostgreSQL is required in CI: ${noPg}`);
  else t.comment(`*** skipped: no PostgreSQL (${noPg}) ***`);
}

t.test("a rollback committed while the scheduler's step is in flight: the aborted rollout is not stepped", { skip: noPg ? "no PostgreSQL" : false }, async (t) => {
  // The app's own scheduler stays out of the way (its first tick is a minute away).
  const h = await testApp(t, { provider: "postgresql", env: { ROLLOUT_TICK_MS: "60000" } });
  const start = await call(h, "POST", "/channels/stable/promote", { role: "release-engineer", body: { release: "0.59.2", rollout: { steps: [{ percent: 50, bake: "0s" }, { percent: 100 }] } } });
  t.equal(start.statusCode, 202, "a rollout whose first step is due at once");
  const id = (start.json() as { id: string }).id;

  const store = h.ctx.store;
  let rollbackStatus = 0;
  const racing: Store = {
    ...store,
    transaction: (fn, opts) =>
      store.transaction(
        (repos) =>
          fn({
            ...repos,
            rollouts: {
              ...repos.rollouts,
              async activeOf(channelId: string) {
                const r = await repos.rollouts.activeOf(channelId);
                if (rollbackStatus === 0) {
                  // Another writer commits now, between this transaction's reads and its write.
                  const rb = await call(h, "POST", "/channels/stable/rollback", { role: "release-engineer", body: { reason: "customers report errors" } });
                  rollbackStatus = rb.statusCode;
                }
                return r;
              },
            },
          }),
        opts,
      ),
  };
  const svc = rolloutService(racing);
  const stepped = await svc.progressDue();
  t.equal(rollbackStatus, 200, "the rollback committed in the middle of the step's transaction");
  t.same(stepped, [], "the scheduler stepped nothing");

  const view = (await call(h, "GET", "/channels/stable/rollout", { role: "viewer" })).json();
  t.match(view, { id, state: "aborted", step: 1 }, "the rollout stays aborted at step 1");
  const history = ((await call(h, "GET", "/channels/stable/history?limit=50", { role: "viewer" })).json().items as { action: string; reason: string | null }[]).filter((e) => e.reason?.includes(id));
  t.same(history.map((e) => e.action), ["rollback", "rollout-step"], "history: step 1, then the rollback; no step 2");
  const audit = ((await call(h, "GET", "/audit?limit=50", { role: "viewer" })).json().items as { action: string }[]).map((e) => e.action).filter((a) => a.startsWith("rollout."));
  t.same(audit, ["rollout.abort", "rollout.start"], "audit: no rollout.step");
  t.equal((await call(h, "GET", "/channels/stable", { role: "viewer" })).json().rollout, null, "the channel has no active rollout");
});
