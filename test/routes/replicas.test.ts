// Several replicas on one PostgreSQL, and a database outage.
import t from "tap";
import { freshDatabase, pgUnavailableReason, PG_URL } from "../helpers/db.js";
import { testApp } from "../helpers/app.js";
import { tcpProxy } from "../helpers/tcp-proxy.js";

const noPg = await pgUnavailableReason();
if (noPg) {
  if (process.env.CI) t.fail(`PostgreSQL is required in CI: ${noPg}`);
  else t.comment(`*** skipped: no PostgreSQL (${noPg}) — replica and outage tests need it ***`);
}

async function until(check: () => Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 25));
  }
  return -1;
}

t.test("a promotion on replica A is served by replica B within 1 s", { skip: noPg ? "no PostgreSQL" : false }, async (t) => {
  // B's fallback check is slowed to 30 s: only LISTEN/NOTIFY can make it in time.
  const a = await testApp(t, { provider: "postgresql" });
  const b = await testApp(t, { provider: "postgresql", databaseUrl: a.url, seed: false, env: { STATE_CHECK_INTERVAL_MS: "30000" } });
  await new Promise((r) => setTimeout(r, 300)); // B's LISTEN connection
  const license = b.license({ channel: "stable" });
  t.equal(JSON.parse((await b.poll(license)).body).metadata.version, "0.58.1", "B has stable cached");
  const res = await a.admin("POST", "/channels/stable/promote", { release: "0.59.2" }, "release-engineer");
  t.equal(res.statusCode, 200);
  const took = await until(async () => JSON.parse((await b.poll(license)).body).metadata.version === "0.59.2", 1000);
  t.ok(took >= 0, `B serves the promotion after ${took} ms`);
});

t.test("the periodic check catches a change when no notification arrives", { skip: noPg ? "no PostgreSQL" : false }, async (t) => {
  const a = await testApp(t, { provider: "postgresql" });
  const b = await testApp(t, { provider: "postgresql", databaseUrl: a.url, seed: false, env: { STATE_CHECK_INTERVAL_MS: "300" } });
  const license = b.license({ channel: "beta" });
  t.equal(JSON.parse((await b.poll(license)).body).metadata.version, "0.59.2");
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
  const took = await until(async () => JSON.parse((await b.poll(license)).body).metadata.version === "0.60.0", 3000);
  t.ok(took >= 0, `picked up by the periodic check after ${took} ms`);
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
  t.ok((await until(async () => h.ctx.health.databaseDown, 5000)) >= 0, "the outage is noticed");
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
  t.ok((await until(async () => (await h.app.inject("/readyz")).statusCode === 200, 10000)) >= 0, "ready again without a restart");
  t.ok((await until(async () => !h.ctx.health.databaseDown, 5000)) >= 0);
  const back = await h.poll(known);
  t.equal(back.headers["x-chartroom-stale"], undefined, "fresh again");
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.59.2" }, "release-engineer")).statusCode, 200, "writes work again");
  t.equal((await h.poll(h.license({ sub: "new", channel: "beta" }))).statusCode, 200);
});
