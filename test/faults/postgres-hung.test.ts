// PostgreSQL that hangs or refuses connections (issue 13). Before the fix a
// black-holed server held admin reads and uncached polls for 25 s and more
// (only the connect timeout was set), and a database that refuses new
// connections (ALLOW_CONNECTIONS false, SQLSTATE 55000) answered 500 with a
// stack in the log per request. Now each request answers within the
// statement budget of src/db/timeouts.ts: 503 DATABASE_UNAVAILABLE with
// Retry-After (or a poll from the cache), and service resumes without a
// restart. Latencies are measured and reported.
import t, { type Test } from "tap";
import { adminQuery, freshDatabase, pgUnavailableReason } from "../helpers/db.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { eventually } from "../helpers/eventually.js";
import { freezableProxy } from "../helpers/freezable-proxy.js";
import { migrate } from "../../src/db/migrate.js";
import { DATABASE_TIMEOUTS } from "../../src/db/timeouts.js";
import { call } from "../routes/admin/fixtures/admin-helpers.js";
import { assertUnavailable, readyz, timed } from "./fault-helpers.js";

const noPg = await pgUnavailableReason();
if (noPg) {
  if (process.env.CI) t.fail(`PostgreSQL is required in CI: ${noPg}`);
  else t.comment(`*** skipped: no PostgreSQL (${noPg}) — the PostgreSQL fault tests need it ***`);
}

/** The longest a request may wait on a hung database (connect or statement budget), with room for a slow machine. */
const HUNG_BOUND_MS = Math.max(DATABASE_TIMEOUTS.connectMs, DATABASE_TIMEOUTS.queryMs) + 6000;
const RECOVERY_MS = 20_000;

async function recovered(t: Test, h: TestApp, what: string) {
  const seen = await eventually(async () => {
    const [ready, list] = [await readyz(h), await call(h, "GET", "/releases", { role: "viewer" })];
    return ready.status === 200 && list.statusCode === 200;
  }, { within: RECOVERY_MS, every: 200 });
  t.ok(seen.ok, `${what}: ready and admin reads answer again, no restart (${seen.summary})`);
}

t.test("a black-holed PostgreSQL: bounded 503s with Retry-After, polls from the cache, recovery when it answers again", { skip: noPg ?? false }, async (t) => {
  const url = await freshDatabase(t, "postgresql");
  const { hostname, port } = new URL(url);
  const proxy = await freezableProxy({ host: hostname, port: Number(port || 5432) });
  t.teardown(() => proxy.close());
  await migrate(url);
  // The same database, through the proxy.
  const proxied = Object.assign(new URL(url), { hostname: "127.0.0.1", port: String(proxy.port) }).toString();
  const h = await testApp(t, { databaseUrl: proxied, env: { STATE_CHECK_INTERVAL_MS: "500" } });
  const stable = h.license({ channel: "stable" });
  t.equal((await h.poll(stable)).statusCode, 200, "stable is polled (and cached) before the fault");

  proxy.freeze();
  t.teardown(() => proxy.thaw());
  const list = await timed(t, "frozen: admin read", HUNG_BOUND_MS, () => call(h, "GET", "/releases", { role: "viewer" }));
  assertUnavailable(t, list, "frozen: admin read");
  const create = await timed(t, "frozen: create release", HUNG_BOUND_MS, () =>
    call(h, "POST", "/releases", { body: { version: "9.2.0", chart: { url: "https://charts.example.com", name: "operator-wandb", version: "0.20.0" }, images: {}, values: {} }, role: "release-engineer" }),
  );
  assertUnavailable(t, create, "frozen: create release");
  const uncached = await timed(t, "frozen: uncached poll (beta)", HUNG_BOUND_MS, () => h.poll(h.license({ channel: "beta" })));
  if (uncached?.statusCode === 200) t.pass("frozen: uncached poll answered from what the replica had");
  else assertUnavailable(t, uncached, "frozen: uncached poll");
  const cached = await timed(t, "frozen: cached poll (stable)", HUNG_BOUND_MS, () => h.poll(stable));
  t.equal(cached?.statusCode, 200, "frozen: the cached channel is still served");
  const ready = await timed(t, "frozen: /readyz", HUNG_BOUND_MS, () => h.app.inject({ method: "GET", url: "/readyz" }));
  t.equal(ready?.statusCode, 503, "frozen: not ready");

  const thawedAt = performance.now();
  proxy.thaw();
  await recovered(t, h, "thawed");
  t.comment(`recovered ${Math.round(performance.now() - thawedAt)} ms after the thaw`);
  const after = await call(h, "POST", "/releases", { body: { version: "9.2.1", chart: { url: "https://charts.example.com", name: "operator-wandb", version: "0.20.0" }, images: {}, values: {} }, role: "release-engineer" });
  t.equal(after.statusCode, 201, `thawed: writes work (${after.body.slice(0, 200)})`);
});

t.test("a database that refuses new connections: 503 with Retry-After, one log line per 10 s, recovery when allowed again", { skip: noPg ?? false }, async (t) => {
  const url = await freshDatabase(t, "postgresql");
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const h = await testApp(t, { databaseUrl: url, captureLogs: true });
  const allow = (on: boolean) => adminQuery(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS ${on}`).then(() => undefined);
  // Set back before the database is dropped (tap runs teardowns last-in first-out is not promised: both are safe twice).
  t.teardown(() => allow(true));
  await allow(false);
  // Connections already open are not affected by the setting: end them, as a failover or a restart of the server would.
  await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name]);

  const logsBefore = h.logs.length;
  const requests = 40;
  let slowest = 0;
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const res = await call(h, "GET", "/releases", { role: "viewer" });
    slowest = Math.max(slowest, performance.now() - started);
    if (i === 0 || i === requests - 1) assertUnavailable(t, res, `refused connections: request ${i + 1}`);
    else if (res.statusCode !== 503) t.fail(`request ${i + 1}: ${res.statusCode} ${res.body.slice(0, 200)}`);
  }
  t.comment(`${requests} admin reads against a database that refuses connections: slowest ${Math.round(slowest)} ms`);
  t.ok(slowest <= HUNG_BOUND_MS, `each answered within ${HUNG_BOUND_MS} ms (slowest ${Math.round(slowest)} ms)`);
  const lines = h.logs.slice(logsBefore).map((l) => JSON.parse(l) as { level: number; msg: string; err?: { stack?: string } });
  const errors = lines.filter((l) => l.level >= 50);
  t.comment(`error lines for ${requests} failed requests: ${errors.length}`);
  t.ok(errors.length <= 3, `a few error lines, not one per request (${errors.length}: ${errors.map((l) => l.msg).join(" | ")})`);
  t.notOk(lines.some((l) => l.msg.startsWith("request") && l.level >= 50 && l.err?.stack), "no stack per failed request");
  t.equal((await readyz(h)).status, 503, "not ready");

  await allow(true);
  await recovered(t, h, "connections allowed again");
});
