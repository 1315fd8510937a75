// The freeze (stop the line, docs/api.md §7) over HTTP, on SQLite and
// PostgreSQL: a freeze refuses promotions (and an apply that would move a
// channel) with 423 FROZEN naming the reason, while rollback, yank,
// revocation and the rest go on; `until` ends it by itself; roles; audit
// rows; a freeze on one replica refuses a promotion on another at once; and
// 20 promotions racing a freeze end each either committed before it or
// refused.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { eachProvider, tempDir, type Provider } from "../../helpers/db.js";
import { testApp, withoutPolicies, type TestApp } from "../../helpers/app.js";
import { prepareDatabase } from "../../../src/boot.js";
import { assertError, assertPlainError, call, createRelease, sleep, snapshot } from "./fixtures/admin-helpers.js";

interface FreezeBody {
  frozen: boolean;
  reason: string | null;
  until: string | null;
  since: string | null;
  by: string | null;
}

interface AuditItem {
  id: number;
  actor: string;
  action: string;
  targetType: string;
  target: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  requestId: string | null;
}

function promote(h: TestApp, channel: string, body: Record<string, unknown>) {
  return call(h, "POST", `/channels/${channel}/promote`, { body, role: "release-engineer" });
}

async function freezeAudit(h: TestApp): Promise<AuditItem[]> {
  const res = await call(h, "GET", "/audit?targetType=freeze&limit=200", { role: "viewer" });
  return (res.json() as { items: AuditItem[] }).items;
}

async function status(h: TestApp): Promise<FreezeBody> {
  const res = await h.admin("GET", "/freeze", undefined, "viewer");
  if (res.statusCode !== 200) throw new Error(`GET /freeze: ${res.statusCode} ${res.body}`);
  return res.json() as FreezeBody;
}

await eachProvider(t, "a freeze refuses promotions with 423 FROZEN; rollback, yank, revoke and the rest go on; lifting it lets them through", async (t, provider) => {
  const h = await testApp(t, { provider });
  t.same(await status(h), { frozen: false, reason: null, until: null, since: null, by: null }, "not frozen at first");
  // stable holds 0.58.1, then 0.59.2: something to roll back to while frozen.
  t.equal((await promote(h, "stable", { release: "0.59.2" })).statusCode, 200);

  const on = await h.admin("PUT", "/freeze", { reason: "incident 4711: bad image in 0.60.0" });
  t.equal(on.statusCode, 200, `PUT /freeze: ${on.body}`);
  const state = on.json() as FreezeBody;
  t.match(state, { frozen: true, reason: "incident 4711: bad image in 0.60.0", until: null, by: "admin@example.com" });
  t.ok(state.since && Date.parse(state.since) <= Date.now(), "since: now");
  t.same(await status(h), state, "GET shows the freeze");

  const before = await snapshot(h);
  const refused = await promote(h, "beta", { release: "0.60.0", from: "unstable", reason: "next" });
  const body = assertPlainError(t, refused, 423, "FROZEN", "promotion while frozen");
  t.match(body.message, /incident 4711: bad image in 0.60.0/, "the message names the reason");
  t.match(body.message, /admin@example\.com/, "and who froze");
  t.match(body.message, /lifts it/, "and how it ends");
  assertPlainError(t, await promote(h, "stable", { release: "0.58.1", allowDowngrade: true }), 423, "FROZEN", "a downgrade promotion is a promotion");
  assertPlainError(t, await promote(h, "stable", { release: "0.59.2" }), 423, "FROZEN", "even one that would change nothing");
  t.same(await snapshot(h), before, "a refused promotion writes nothing");
  // A dry run is refused exactly as the promotion would be; a rollback's dry run is not (a rollback is allowed).
  assertPlainError(t, await promote(h, "beta", { release: "0.60.0", from: "unstable", dryRun: true }), 423, "FROZEN", "a dry-run promotion while frozen");
  const rollbackPreview = await call(h, "POST", "/channels/stable/rollback", { body: { reason: "preview", dryRun: true }, role: "release-engineer" });
  t.equal(rollbackPreview.statusCode, 200, `a rollback's dry run while frozen: ${rollbackPreview.body.slice(0, 200)}`);
  t.same(await snapshot(h), before, "dry runs write nothing");

  // What a freeze does not stop.
  const rollback = await call(h, "POST", "/channels/stable/rollback", { body: { reason: "back to 0.58.1" }, role: "release-engineer" });
  t.equal(rollback.statusCode, 200, `rollback works: ${rollback.body}`);
  t.equal(rollback.json().to.version, "0.58.1");
  t.equal((await call(h, "POST", "/releases/0.60.0/yank", { body: { reason: "bad image" }, role: "release-engineer" })).statusCode, 200, "yank works");
  const license = h.license({ sub: "acme", jti: "lic-acme-1" });
  t.equal((await call(h, "POST", "/licenses/lic-acme-1/revoke", { body: { reason: "leaked" } })).statusCode, 200, "revocation works");
  t.equal((await h.poll(license)).statusCode, 403, "and the revoked license is refused");
  await createRelease(t, h, "0.61.0");
  t.equal((await call(h, "POST", "/channels", { body: { name: "canary" } })).statusCode, 201, "channel create works");
  t.equal((await call(h, "PATCH", "/channels/canary", { body: { description: "canaries" } })).statusCode, 200, "channel patch works");
  t.equal((await call(h, "POST", "/licenses", { body: { sub: "acme-2", channel: "stable" } })).statusCode, 201, "license issue works");

  const again = await h.admin("PUT", "/freeze", { reason: "incident 4711, still investigating" });
  t.equal(again.statusCode, 200, "a second PUT changes the reason");
  t.equal(again.json().since, state.since, "the freeze keeps its start");
  t.match(assertPlainError(t, await promote(h, "canary", { release: "0.61.0" }), 423, "FROZEN").message, /still investigating/, "the new reason is given");

  const off = await h.admin("DELETE", "/freeze", { reason: "fixed in 0.61.0" });
  t.equal(off.statusCode, 200, `DELETE /freeze: ${off.body}`);
  t.same(off.json(), { frozen: false, reason: null, until: null, since: null, by: null });
  t.equal((await promote(h, "canary", { release: "0.61.0" })).statusCode, 200, "promotions work again");
  assertPlainError(t, await h.admin("DELETE", "/freeze", { reason: "twice" }), 409, "NOT_FROZEN", "lifting twice");

  const audit = await freezeAudit(h);
  t.same(audit.map((a) => a.action), ["freeze.off", "freeze.on", "freeze.on"], "every PUT and DELETE is audited (the refused DELETE is not)");
  t.match(audit[2], { actor: "admin@example.com", target: "promotions", before: { frozen: false }, after: { frozen: true, reason: "incident 4711: bad image in 0.60.0", until: null } });
  t.match(audit[1], { before: { frozen: true, reason: "incident 4711: bad image in 0.60.0" }, after: { frozen: true, reason: "incident 4711, still investigating" } });
  t.match(audit[0], { before: { frozen: true, reason: "incident 4711, still investigating" }, after: { frozen: false, reason: "fixed in 0.61.0" } });
  t.ok(audit.every((a) => typeof a.requestId === "string"), "with the request id");
});

await eachProvider(t, "until: must lie ahead; a freeze ends by itself then", async (t, provider) => {
  const h = await testApp(t, { provider });
  const before = await snapshot(h);
  assertError(t, await h.admin("PUT", "/freeze", { reason: "r", until: new Date(Date.now() - 1000).toISOString() }), 400, "VALIDATION_FAILED", "until", "until in the past");
  assertError(t, await h.admin("PUT", "/freeze", { reason: "r", until: "tomorrow" }), 400, "VALIDATION_FAILED", "until", "until not a date-time");
  assertError(t, await h.admin("PUT", "/freeze", { reason: "r", until: "2099-01-01T00:00:00" }), 400, "VALIDATION_FAILED", "until", "until without a time zone");
  assertError(t, await h.admin("PUT", "/freeze", { until: "2099-01-01T00:00:00Z" }), 400, "VALIDATION_FAILED", "reason", "no reason");
  assertError(t, await h.admin("PUT", "/freeze", { reason: "" }), 400, "VALIDATION_FAILED", "reason", "an empty reason");
  assertError(t, await h.admin("DELETE", "/freeze", {}), 400, "VALIDATION_FAILED", "reason", "a lift without a reason");
  t.same(await status(h), { frozen: false, reason: null, until: null, since: null, by: null }, "nothing frozen by a refused PUT");
  t.same(await freezeAudit(h), [], "nor audited");
  t.same(await snapshot(h), before);

  const until = new Date(Date.now() + 1500).toISOString();
  const on = await h.admin("PUT", "/freeze", { reason: "deploy window closed", until });
  t.equal(on.statusCode, 200);
  t.equal(on.json().until, until);
  t.match(assertPlainError(t, await promote(h, "beta", { release: "0.60.0" }), 423, "FROZEN").message, new RegExp(`ends by itself at ${until.replace(/\./g, "\\.")}`), "the message says when it ends");
  await sleep(Date.parse(until) - Date.now() + 50);
  t.equal((await status(h)).frozen, false, "GET shows it lifted once until has passed");
  t.equal((await promote(h, "beta", { release: "0.60.0" })).statusCode, 200, "and promotions work");
  t.match(assertPlainError(t, await h.admin("DELETE", "/freeze", { reason: "late" }), 409, "NOT_FROZEN").message, /ended by itself/, "lifting an ended freeze says it ended");
  t.same((await freezeAudit(h)).map((a) => a.action), ["freeze.on"], "the end by itself writes nothing");
});

await eachProvider(t, "roles: viewers read the freeze, only admins set or lift it", async (t, provider) => {
  const h = await testApp(t, { provider });
  t.equal((await h.admin("GET", "/freeze", undefined, "viewer")).statusCode, 200, "viewer may GET");
  assertPlainError(t, await h.admin("PUT", "/freeze", { reason: "r" }, "viewer"), 403, "ROLE_REQUIRED", "viewer PUT");
  assertPlainError(t, await h.admin("PUT", "/freeze", { reason: "r" }, "release-engineer"), 403, "ROLE_REQUIRED", "release-engineer PUT");
  t.equal((await h.admin("PUT", "/freeze", { reason: "r" })).statusCode, 200, "admin PUT");
  assertPlainError(t, await h.admin("DELETE", "/freeze", { reason: "r" }, "release-engineer"), 403, "ROLE_REQUIRED", "release-engineer DELETE");
  t.equal((await status(h)).frozen, true, "still frozen");
  const anon = await h.app.inject({ method: "GET", url: "/api/v1/admin/freeze" });
  assertPlainError(t, anon, 401, "ADMIN_UNAUTHORIZED", "no token");
});

/** A channels/ directory declaring stable at `stableAt`, and a new channel. */
function declarations(t: Test, stableAt: string): string {
  const dir = tempDir(t);
  mkdirSync(join(dir, "releases"));
  // The seeded file (without its policy, as the test app seeds it), with only its release changed.
  writeFileSync(join(dir, "stable.yaml"), readFileSync(join(withoutPolicies(tempDir(t)), "stable.yaml"), "utf8").replace(/^release: .*$/m, `release: ${stableAt}`));
  writeFileSync(join(dir, "extra.yaml"), "name: extra\ndescription: declared while frozen\n");
  return dir;
}

await eachProvider(t, "apply while frozen: a move is refused (nothing of the apply written), the rest of an apply goes through", async (t, provider) => {
  const h = await testApp(t, { provider });
  t.equal((await h.admin("PUT", "/freeze", { reason: "release freeze" })).statusCode, 200);
  const before = await snapshot(h);
  const err = (await h.ctx.declarative.apply(declarations(t, "0.59.2"), { sub: "gitops" }).catch((e: unknown) => e)) as { code?: string; statusCode?: number; message?: string; field?: string };
  t.match(err, { code: "FROZEN", statusCode: 423, field: "stable.yaml: release" }, "the move is refused");
  t.match(err?.message, /apply moving channel stable to 0\.59\.2 \(declared in stable\.yaml\) refused: .*release freeze/, "naming the channel, the file and the freeze");
  t.same(await snapshot(h), before, "nothing of that apply was written (the new channel neither)");
  const dry = await h.ctx.declarative.apply(declarations(t, "0.59.2"), { sub: "gitops" }, { dryRun: true });
  t.match(dry.conflicts, [{ code: "FROZEN", statusCode: 423, field: "stable.yaml: release" }], "a dry run lists the same refusal");

  const ok = await h.ctx.declarative.apply(declarations(t, "0.58.1"), { sub: "gitops" });
  t.same(ok.steps.map((s) => s.action), ["create-channel"], "an apply that moves nothing goes through");
  const again = await h.ctx.declarative.apply(withoutPolicies(tempDir(t)), { sub: "gitops" });
  t.same(again.steps, [], "re-applying what is in force is a no-op, frozen or not");
});

/** A second replica on the same database (PostgreSQL), or the same app (SQLite). */
async function replicas(t: Test, provider: Provider): Promise<[TestApp, TestApp]> {
  const a = await testApp(t, { provider });
  // B's periodic state check is slowed to 30 s: the freeze must not depend on it.
  const b = provider === "postgresql" ? await testApp(t, { provider, databaseUrl: a.url, seed: false, env: { STATE_CHECK_INTERVAL_MS: "30000" } }) : a;
  return [a, b];
}

await eachProvider(t, "a freeze on replica A refuses a promotion on replica B at once, and B lifts it for A", async (t, provider) => {
  const [a, b] = await replicas(t, provider);
  t.equal((await status(b)).frozen, false);
  const on = await a.admin("PUT", "/freeze", { reason: "stop the line" });
  const committed = performance.now();
  t.equal(on.statusCode, 200);
  const res = await promote(b, "beta", { release: "0.60.0" });
  const ms = performance.now() - committed;
  assertPlainError(t, res, 423, "FROZEN", "B refuses");
  t.comment(`${provider}: B refused a promotion ${ms.toFixed(1)} ms after A's freeze committed (the first promotion B was asked for)`);
  t.ok(ms < 1000, `within 1 s (${ms.toFixed(1)} ms)`);
  t.equal((await status(b)).reason, "stop the line", "B's GET /freeze reads it");
  t.equal((await b.admin("DELETE", "/freeze", { reason: "all clear" })).statusCode, 200, "B lifts it");
  t.equal((await promote(a, "beta", { release: "0.60.0" })).statusCode, 200, "A promotes again");
});

await eachProvider(t, "20 promotions racing a freeze: each one committed before the freeze, or refused with 423", async (t, provider) => {
  const [a, b] = await replicas(t, provider);
  const N = 20;
  const GAP_MS = 10;
  for (let i = 0; i < N; i++) t.equal((await call(a, "POST", "/channels", { body: { name: `race-${i}` } })).statusCode, 201);
  // Warm both replicas' connection pools, so the race is between the requests and not with start-up.
  await Promise.all([a, b].flatMap((h) => Array.from({ length: 4 }, () => status(h))));
  const results: { i: number; began: number; status: number }[] = [];
  let frozeAnswered = Infinity;
  let freezeBegan = 0;
  const promotions = Array.from({ length: N }, async (_, i) => {
    await sleep(i * GAP_MS);
    const began = performance.now();
    // On B; the freeze on A (on PostgreSQL: another replica, with a connection pool of its own).
    const res = await promote(b, `race-${i}`, { release: "0.60.0" });
    results.push({ i, began, status: res.statusCode });
  });
  const freeze = (async () => {
    await sleep((N / 2) * GAP_MS);
    freezeBegan = performance.now();
    const res = await a.admin("PUT", "/freeze", { reason: "race" });
    frozeAnswered = performance.now();
    t.equal(res.statusCode, 200, "the freeze commits");
  })();
  await Promise.all([...promotions, freeze]);

  const statuses = results.map((r) => r.status);
  t.ok(statuses.every((s) => s === 200 || s === 423), `every promotion is done or FROZEN: ${statuses.join(" ")}`);
  const late = results.filter((r) => r.began > frozeAnswered);
  t.ok(late.every((r) => r.status === 423), `every promotion begun after the freeze answered is refused (${late.length} of them)`);
  t.ok(results.filter((r) => r.status === 200).every((r) => r.began < frozeAnswered), "none that succeeded began after the freeze had committed");

  // In the database: the promotions that succeeded wrote their audit rows before the freeze's (it waited for them), the refused wrote
  // nothing. Without the freeze lock (src/repositories/freeze-repo.ts) this fails on PostgreSQL: one that read "not frozen" commits after.
  const audit = (await call(a, "GET", "/audit?limit=200")).json().items as AuditItem[];
  const freezeId = audit.find((x) => x.action === "freeze.on")!.id;
  const moved = audit.filter((x) => x.action === "channel.promote" && x.target.startsWith("race-"));
  const done = results.filter((r) => r.status === 200).map((r) => `race-${r.i}`).sort();
  t.same(moved.map((x) => x.target).sort(), done, "an audit row for each promotion that succeeded, none for the refused");
  t.ok(moved.every((x) => x.id < freezeId), "each committed promotion's audit row precedes the freeze's");
  for (const r of results) {
    const channel = (await call(a, "GET", `/channels/race-${r.i}`, { role: "viewer" })).json() as { release: { version: string } | null };
    t.equal(channel.release?.version ?? null, r.status === 200 ? "0.60.0" : null, `race-${r.i}: moved iff promoted`);
  }
  t.comment(`${provider}: ${done.length} promoted before the freeze, ${N - done.length} refused; the freeze took ${(frozeAnswered - freezeBegan).toFixed(1)} ms`);
});

await eachProvider(t, "the first boot loads an empty database even while frozen (it serves nobody yet); the freeze stays", async (t, provider) => {
  const h = await testApp(t, { provider, seed: false });
  t.equal((await h.admin("PUT", "/freeze", { reason: "frozen before any channel" })).statusCode, 200);
  await prepareDatabase(h.ctx, h.app.log);
  t.same((await h.ctx.store.channels.list()).map((c) => c.name), ["beta", "stable", "unstable"], "channels/ loaded, with their releases");
  t.equal((await status(h)).frozen, true, "still frozen");
  assertPlainError(t, await promote(h, "stable", { release: "0.59.2" }), 423, "FROZEN", "and promotions refused");
});
