// Channel policies (docs/api.md §3) through the admin API, on SQLite and
// PostgreSQL: upstream (from implied and checked), minSoak, downgradeRole,
// for promotions, rollouts, dry runs and rollbacks; and the checks of a
// policy itself. The sample channels declare unstable → beta → stable.
import t from "tap";
import { eachProvider } from "../../helpers/db.js";
import { testApp } from "../../helpers/app.js";
import { assertError, call, createRelease, sleep, snapshot } from "./fixtures/admin-helpers.js";

const promote = (h: Parameters<typeof call>[0], channel: string, body: Record<string, unknown>, role: "release-engineer" | "admin" = "release-engineer") =>
  call(h, "POST", `/channels/${channel}/promote`, { body, role });

await eachProvider(t, "upstream: a release reaches a channel only as its upstream's current release", async (t, provider) => {
  const h = await testApp(t, { provider, samplePolicies: true });
  const detail = await call(h, "GET", "/channels/stable", { role: "viewer" });
  t.same(detail.json().policy, { upstream: "beta" }, "GET /channels/:name shows the policy");
  t.same((await call(h, "GET", "/channels", { role: "viewer" })).json().items.map((c: { name: string; policy: unknown }) => [c.name, c.policy]), [["beta", { upstream: "unstable" }], ["stable", { upstream: "beta" }], ["unstable", {}]]);
  await createRelease(t, h, "0.61.0");
  const before = await snapshot(h);

  const straight = assertError(t, await promote(h, "stable", { release: "0.61.0" }), 409, "POLICY_REFUSED", "release", "straight to stable");
  t.match(straight.message, "channel stable takes only the current release of beta (policy upstream: beta), which is at 0.59.2: promote 0.61.0 --to beta first");
  const beta = assertError(t, await promote(h, "beta", { release: "0.61.0" }), 409, "POLICY_REFUSED", "release");
  t.match(beta.message, /promote 0\.61\.0 --to unstable first/);
  assertError(t, await promote(h, "stable", { release: "0.61.0", dryRun: true }), 409, "POLICY_REFUSED", "release", "a dry run is refused the same way");
  assertError(t, await promote(h, "stable", { release: "0.61.0", rollout: { steps: [{ percent: 10, bake: "1h" }, { percent: 100 }] } }), 409, "POLICY_REFUSED", "release", "and a rollout");
  t.same(await snapshot(h), before, "refusals write nothing");

  t.equal((await promote(h, "unstable", { release: "0.61.0" })).statusCode, 200, "unstable has no upstream");
  const wrongFrom = assertError(t, await promote(h, "beta", { release: "0.61.0", from: "stable" }), 409, "POLICY_REFUSED", "from");
  t.match(wrongFrom.message, /takes releases only from unstable.*not from stable.*--from unstable/);
  const implied = await promote(h, "beta", { release: "0.61.0" });
  t.equal(implied.statusCode, 200, "from is implied");
  t.equal(implied.json().to.version, "0.61.0");
  const dry = await promote(h, "stable", { release: "0.61.0", dryRun: true });
  t.equal(dry.statusCode, 200, dry.body);
  t.equal(dry.json().decision.action, "promote");
  const staged = await promote(h, "stable", { release: "0.61.0", from: "beta", rollout: { steps: [{ percent: 10, bake: "1h" }, { percent: 100 }] } });
  t.equal(staged.statusCode, 202, "a rollout of the upstream's release starts");

  // A rollback is a move down: not bound by upstream (beta has moved on, stable goes back to 0.58.1).
  t.equal((await call(h, "POST", "/channels/stable/rollout/abort", { body: { reason: "r" }, role: "release-engineer" })).statusCode, 200);
  t.equal((await promote(h, "stable", { release: "0.59.2", allowDowngrade: false })).statusCode, 409, "0.59.2 is no longer beta's release");
});

await eachProvider(t, "minSoak: only after the release has been the upstream's that long", async (t, provider) => {
  const h = await testApp(t, { provider, samplePolicies: true });
  const patched = await call(h, "PATCH", "/channels/stable", { body: { policy: { upstream: "beta", minSoak: "2s" } } });
  t.equal(patched.statusCode, 200, patched.body);
  t.same(patched.json().policy, { upstream: "beta", minSoak: "2s" });
  await createRelease(t, h, "0.61.0");
  t.equal((await promote(h, "unstable", { release: "0.61.0" })).statusCode, 200);
  t.equal((await promote(h, "beta", { release: "0.61.0" })).statusCode, 200);
  const early = assertError(t, await promote(h, "stable", { release: "0.61.0" }), 409, "POLICY_REFUSED", "release", "too early");
  t.match(early.message, /release 0\.61\.0 has been the release of beta for \d+s \(since [0-9T:.-]+Z\); channel stable needs 2s there \(policy minSoak: 2s\): wait [12]s, then promote it/);
  assertError(t, await promote(h, "stable", { release: "0.61.0", dryRun: true }), 409, "POLICY_REFUSED", "release", "the dry run too");
  await sleep(2100);
  t.equal((await promote(h, "stable", { release: "0.61.0" })).statusCode, 200, "after minSoak");
  // A move down is not bound by minSoak (nor upstream): the way back never waits.
  t.equal((await promote(h, "stable", { release: "0.58.1", allowDowngrade: true })).statusCode, 200, "a downgrade does not soak");
});

await eachProvider(t, "downgradeRole: the role a move down needs", async (t, provider) => {
  const h = await testApp(t, { provider, samplePolicies: true });
  t.equal((await call(h, "PATCH", "/channels/stable", { body: { policy: { upstream: "beta", downgradeRole: "admin" } } })).statusCode, 200);
  t.equal((await promote(h, "stable", { release: "0.59.2" })).statusCode, 200, "0.59.2 is beta's release");
  const before = await snapshot(h);
  const rb = assertError(t, await call(h, "POST", "/channels/stable/rollback", { body: { reason: "bad" }, role: "release-engineer" }), 409, "POLICY_REFUSED", "to");
  t.match(rb.message, "moving channel stable down from 0.59.2 to 0.58.1 needs the admin role (policy downgradeRole: admin)");
  assertError(t, await call(h, "POST", "/channels/stable/rollback", { body: { reason: "bad", dryRun: true }, role: "release-engineer" }), 409, "POLICY_REFUSED", "to", "the dry run too");
  assertError(t, await promote(h, "stable", { release: "0.58.1", allowDowngrade: true }), 409, "POLICY_REFUSED", "release", "allowDowngrade too");
  t.same(await snapshot(h), before, "refusals write nothing");
  const admin = await call(h, "POST", "/channels/stable/rollback", { body: { reason: "bad" }, role: "admin" });
  t.equal(admin.statusCode, 200, admin.body);
  t.equal(admin.json().to.version, "0.58.1", "an admin rolls back");
  // Beta has no downgradeRole: a release engineer may move it down.
  t.equal((await call(h, "POST", "/channels/unstable/promote", { body: { release: "0.58.1", allowDowngrade: true }, role: "release-engineer" })).statusCode, 200);
});

await eachProvider(t, "a policy is checked when it is written", async (t, provider) => {
  const h = await testApp(t, { provider, samplePolicies: true });
  const before = await snapshot(h);
  const patch = (name: string, policy: unknown) => call(h, "PATCH", `/channels/${name}`, { body: { policy } });
  t.match(assertError(t, await patch("stable", { upstream: "nightly" }), 400, "VALIDATION_FAILED", "policy.upstream").reason, /channel nightly does not exist/);
  t.match(assertError(t, await patch("stable", { upstream: "stable" }), 400, "VALIDATION_FAILED", "policy.upstream").reason, /the channel itself/);
  t.match(assertError(t, await patch("unstable", { upstream: "stable" }), 400, "VALIDATION_FAILED", "policy.upstream").reason, "makes a cycle (unstable → stable → beta → unstable)");
  t.match(assertError(t, await patch("stable", { minSoak: "1h" }), 400, "VALIDATION_FAILED", "policy.minSoak").reason, /needs upstream/);
  assertError(t, await patch("stable", { upstream: "beta", minSoak: "1 hour" }), 400, "VALIDATION_FAILED", "policy.minSoak");
  assertError(t, await patch("stable", { downgradeRole: "viewer" }), 400, "VALIDATION_FAILED", "policy.downgradeRole");
  assertError(t, await patch("stable", { upstream: "beta", soak: "1h" }), 400, "VALIDATION_FAILED", "policy.soak");
  assertError(t, await call(h, "PATCH", "/channels/stable", { body: { policy: { upstream: "beta" } }, role: "release-engineer" }), 403, "ROLE_REQUIRED");
  t.same(await snapshot(h), before, "nothing written");
  const created = await call(h, "POST", "/channels", { body: { name: "edge", policy: { upstream: "unstable", minSoak: "15m" } } });
  t.equal(created.statusCode, 201, created.body);
  t.same(created.json().policy, { upstream: "unstable", minSoak: "15m" });
  assertError(t, await call(h, "POST", "/channels", { body: { name: "edge2", policy: { upstream: "nowhere" } } }), 400, "VALIDATION_FAILED", "policy.upstream");
  const cleared = await patch("stable", {});
  t.same(cleared.json().policy, {}, "{} removes the policy");
  t.equal((await promote(h, "stable", { release: "0.60.0" })).statusCode, 200, "stable then takes any release");
  const audit = (await call(h, "GET", "/audit?action=channel.update&limit=1", { role: "viewer" })).json().items[0];
  t.same([audit.before.policy, audit.after.policy], [{ upstream: "beta" }, {}], "the audit has the policy before and after");
});
