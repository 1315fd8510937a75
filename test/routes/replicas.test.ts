// Several replicas on one PostgreSQL, and a database outage.
import t, { type Test } from "tap";
import { freshDatabase, pgUnavailableReason, PG_URL, stateListeners } from "../helpers/db.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { eventually } from "../helpers/eventually.js";
import { tcpProxy } from "../helpers/tcp-proxy.js";

const noPg = await pgUnavailableReason();
if (noPg) {
  if (process.env.CI) t.fail(`PostgreSQL is required in CI: ${noPg}`);
  else t.comment(`*** skipped: no PostgreSQL (${noPg}) — replica and outage tests need it ***`);
}

/** Conditions that are not a promise to users get a generous deadline: only a product that never gets there fails. */
const GENEROUS_MS = 20_000;

/** The version B serves to `license` (null if it does not answer 200). */
async function served(h: TestApp, license: string): Promise<string | null> {
  const res = await h.poll(license);
  return res.statusCode === 200 ? (JSON.parse(res.body) as { metadata: { version: string } }).metadata.version : null;
}

/** Waits until both replicas' LISTEN connections are in force (a notification sent before would be lost to the catch-up check). */
async function bothListening(t: Test, url: string): Promise<void> {
  const listening = await eventually(async () => (await stateListeners(url)) >= 2, { within: GENEROUS_MS, every: 25 });
  t.ok(listening.ok, `both replicas LISTEN: ${listening.summary}`);
}

t.test("a promotion on replica A is served by replica B within 1 s", { skip: noPg ? "no PostgreSQL" : false }, async (t) => {
  // B's fallback check is slowed to 30 s: only LISTEN/NOTIFY can make it in time.
  const a = await testApp(t, { provider: "postgresql" });
  const b = await testApp(t, { provider: "postgresql", databaseUrl: a.url, seed: false, env: { STATE_CHECK_INTERVAL_MS: "30000" } });
  await bothListening(t, a.url);
  const license = b.license({ channel: "stable" });
  t.equal(await served(b, license), "0.58.1", "B has stable cached");
  const res = await a.admin("POST", "/channels/stable/promote", { release: "0.59.2" }, "release-engineer");
  // The promise counts from the commit: the admin call has returned, so the change is committed.
  const committed = performance.now();
  t.equal(res.statusCode, 200);
  const seen = await eventually(async () => (await served(b, license)) === "0.59.2", { within: 1000, from: committed });
  t.ok(seen.ok, `B serves the promotion within 1 s of the commit: ${seen.summary}`);
});

t.test("the periodic check catches a change when no notification arrives", { skip: noPg ? "no PostgreSQL" : false }, async (t) => {
  const a = await testApp(t, { provider: "postgresql" });
  const b = await testApp(t, { provider: "postgresql", databaseUrl: a.url, seed: false, env: { STATE_CHECK_INTERVAL_MS: "300" } });
  // With B's LISTEN in force first, its catch-up check on connecting cannot be what finds the change.
  await bothListening(t, a.url);
  const license = b.license({ channel: "beta" });
  t.equal(await served(b, license), "0.59.2");
  // Bump the version without NOTIFY, as if the notification were lost.
  await a.ctx.store.transaction(async (repos) => {
    const beta = (await repos.channels.findByName("beta"))!;
    const target = (await repos.releases.findByRef("0.60.0"))!;
    await repos.channels.setRelease(beta.id, target.id, beta.rowVersion);
    await repos.events.add({ channelId: beta.id, action: "promote", fromReleaseId: beta.releaseId, toReleaseId: target.id, actor: "test" });
  });
  const pg = await import("pg");
  const c = new pg.default.Client({ connectionString: a.url });
  await c.connect();
  await c.query(`UPDATE "StateVersion" SET value = value + 1 WHERE kind = 'catalog'`);
  await c.end();
  // No promise to users here (the interval is set to 300 ms): only a check that never runs fails.
  const seen = await eventually(async () => (await served(b, license)) === "0.60.0", { within: GENEROUS_MS, every: 25 });
  t.ok(seen.ok, `picked up by the periodic check: ${seen.summary}`);
});

t.test("database outage: cached answers go on (stale-marked), the rest is 503, recovery without restart", { skip: noPg ? "no PostgreSQL" : false }, async (t) => {
  const direct = await freshDatabase(t, "postgresql");
  const pgUrl = new URL(PG_URL);
  const proxy = await tcpProxy({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
  t.teardown(() => proxy.close());
  const viaProxy = new URL(direct);
  viaProxy.port = String(proxy.port);
  const h = await testApp(t, { provider: "postgresql", databaseUrl: viaProxy.toString(), env: { STATE_CHECK_INTERVAL_MS: "200" } });
  const known = h.license({ sub: "known", channel: "stable" });
  const fresh = await h.poll(known);
  t.equal(fresh.statusCode, 200);
  t.equal(fresh.headers["x-chartroom-stale"], undefined, "not stale while the database answers");

  await proxy.cut();
  const noticed = await eventually(() => h.ctx.health.databaseDown, { within: GENEROUS_MS, every: 25 });
  t.ok(noticed.ok, `the outage is noticed: ${noticed.summary}`);
  const stale = await h.poll(known);
  t.equal(stale.statusCode, 200, "a known license still gets its spec");
  t.equal(stale.headers["x-chartroom-stale"], "true");
  t.equal(stale.body, fresh.body, "the last good data");
  const newcomer = await h.poll(h.license({ sub: "new", channel: "beta" }));
  t.equal(newcomer.statusCode, 503, "a channel never loaded cannot be answered");
  t.equal(newcomer.json().code, "DATABASE_UNAVAILABLE");
  t.ok(newcomer.headers["retry-after"], "with Retry-After");
  const write = await h.admin("POST", "/channels/stable/promote", { release: "0.59.2" }, "release-engineer");
  t.equal(write.statusCode, 503, "admin writes are refused clearly");
  t.equal(write.json().code, "DATABASE_UNAVAILABLE");
  t.notMatch(write.body, /ECONN|prisma|stack/i, "no internals");
  t.equal((await h.app.inject("/healthz")).statusCode, 200, "alive");
  t.equal((await h.app.inject("/readyz")).statusCode, 503, "not ready");
  t.equal((await h.poll("garbage")).statusCode, 401, "a bad license is still a 401");

  await proxy.restore();
  const ready = await eventually(async () => (await h.app.inject("/readyz")).statusCode === 200, { within: GENEROUS_MS, every: 25 });
  t.ok(ready.ok, `ready again without a restart: ${ready.summary}`);
  const up = await eventually(() => !h.ctx.health.databaseDown, { within: GENEROUS_MS, every: 25 });
  t.ok(up.ok, `the database is seen as up again: ${up.summary}`);
  const back = await h.poll(known);
  t.equal(back.headers["x-chartroom-stale"], undefined, "fresh again");
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.59.2" }, "release-engineer")).statusCode, 200, "writes work again");
  t.equal((await h.poll(h.license({ sub: "new", channel: "beta" }))).statusCode, 200);
});
