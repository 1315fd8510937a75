// Rate limits, body limits, security headers, metrics.
import t from "tap";
import { redisReachable } from "../helpers/redis.js";
import { testApp } from "../helpers/app.js";

t.test("per-licensee limit on the operator path: 429 with Retry-After and a code; others unaffected", async (t) => {
  const h = await testApp(t, { env: { RATE_LIMIT_LICENSE_PER_MINUTE: "3" } });
  const greedy = h.license({ sub: "greedy" });
  for (let i = 0; i < 3; i++) t.equal((await h.poll(greedy)).statusCode, 200, `poll ${i + 1} allowed`);
  const limited = await h.poll(greedy);
  t.equal(limited.statusCode, 429);
  t.equal(limited.json().code, "RATE_LIMITED");
  t.ok(Number(limited.headers["retry-after"]) >= 1, `Retry-After ${limited.headers["retry-after"]}`);
  t.equal((await h.poll(h.license({ sub: "greedy" }))).statusCode, 429, "a second token of the same licensee shares the limit");
  t.equal((await h.poll(h.license({ sub: "polite" }))).statusCode, 200, "another licensee is not limited");
  const bad = await h.poll("garbage");
  t.equal(bad.statusCode, 401, "an invalid license is refused before it could count against anyone");
});

t.test("per-IP limit before authentication", async (t) => {
  const h = await testApp(t, { env: { RATE_LIMIT_IP_PER_MINUTE: "5" } });
  for (let i = 0; i < 5; i++) await h.app.inject({ url: "/api/v1/operator/channel", remoteAddress: "203.0.113.7" });
  const limited = await h.app.inject({ url: "/api/v1/operator/channel", remoteAddress: "203.0.113.7" });
  t.equal(limited.statusCode, 429, "even unauthenticated requests count");
  t.equal(limited.json().code, "RATE_LIMITED");
  t.equal((await h.app.inject({ url: "/api/v1/operator/channel", remoteAddress: "203.0.113.8" })).statusCode, 401, "another IP is not limited");
  t.equal((await h.app.inject({ url: "/healthz", remoteAddress: "203.0.113.7" })).statusCode, 200, "probes are never limited");
  t.equal((await h.app.inject({ url: "/metrics", remoteAddress: "203.0.113.7" })).statusCode, 200, "nor /metrics");
  t.equal((await h.app.inject({ url: "/openapi.json", remoteAddress: "203.0.113.7" })).statusCode, 429, "the docs are limited per IP");
});

t.test("per-IP limit before admin authentication: guessing tokens costs counts", async (t) => {
  const h = await testApp(t, { env: { RATE_LIMIT_IP_PER_MINUTE: "3" } });
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await h.app.inject({ url: "/api/v1/admin/channels", headers: { authorization: `Bearer guess-${i}` }, remoteAddress: "203.0.113.9" });
    codes.push(res.statusCode);
  }
  t.same(codes, [401, 401, 401, 429, 429], "three bad tokens checked, then refused before any check");
  const other = await h.app.inject({ url: "/api/v1/admin/channels", headers: { authorization: `Bearer ${h.adminToken("viewer")}` }, remoteAddress: "203.0.113.10" });
  t.equal(other.statusCode, 200, "another IP is not limited");
});

t.test("per admin subject", async (t) => {
  const h = await testApp(t, { env: { RATE_LIMIT_ADMIN_PER_MINUTE: "2" } });
  const token = h.adminToken("viewer", "script@example.com");
  const get = () => h.app.inject({ url: "/api/v1/admin/channels", headers: { authorization: `Bearer ${token}` } });
  t.equal((await get()).statusCode, 200);
  t.equal((await get()).statusCode, 200);
  const limited = await get();
  t.equal(limited.statusCode, 429);
  t.equal(limited.json().code, "RATE_LIMITED");
  t.equal((await h.admin("GET", "/channels", undefined, "viewer")).statusCode, 200, "another subject is not limited");
});

const redisUp = await redisReachable();
if (!redisUp && process.env.CI) t.fail("Redis is required in CI at 127.0.0.1:6379");

t.test("with REDIS_URL, two replicas share one limit", { skip: redisUp ? false : "skipped: no Redis at 127.0.0.1:6379" }, async (t) => {
  const env = { RATE_LIMIT_LICENSE_PER_MINUTE: "4", REDIS_URL: "redis://127.0.0.1:6379" };
  const a = await testApp(t, { env });
  const b = await testApp(t, { env, databaseUrl: a.url, seed: false });
  const sub = `shared-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const ta = a.license({ sub });
  const tb = b.license({ sub });
  const codes: number[] = [];
  for (let i = 0; i < 3; i++) codes.push((await a.poll(ta)).statusCode, (await b.poll(tb)).statusCode);
  t.same(codes, [200, 200, 200, 200, 429, 429], "4 allowed across both replicas, then refused on both");
});

t.test("body limits: 413 with a code, per route", async (t) => {
  const h = await testApp(t);
  const huge = { version: "9.9.9", chart: { path: "/x" }, notes: "x".repeat(2 * 1024 * 1024) };
  const big = await h.admin("POST", "/releases", huge, "release-engineer");
  t.equal(big.statusCode, 413);
  t.equal(big.json().code, "BODY_TOO_LARGE");
  const promote = await h.admin("POST", "/channels/stable/promote", { release: "0.59.2", reason: "x".repeat(20_000) }, "release-engineer");
  t.equal(promote.statusCode, 413, "a promotion body is small: 16 KiB");
  t.equal(await h.ctx.store.releases.findByRef("9.9.9"), null);
});

t.test("a malformed URL is a catalogue error with the API's headers", async (t) => {
  const h = await testApp(t);
  const res = await h.app.inject("/api/v1/operator/%zz");
  t.equal(res.statusCode, 400);
  t.equal(res.json().code, "BAD_REQUEST", "not fastify's own FST_ERR_BAD_URL");
  t.match(res.json().message, /not a valid url/);
  t.equal(res.headers["x-content-type-options"], "nosniff");
});

t.test("security headers on every answer; no CORS", async (t) => {
  const h = await testApp(t);
  const answers = [
    await h.poll(h.license()),
    await h.poll("not-a-jwt"),
    await h.app.inject("/healthz"),
    await h.admin("GET", "/channels"),
    await h.app.inject("/no/such/route"),
  ];
  t.same(answers.map((r) => r.statusCode), [200, 401, 200, 200, 404]);
  for (const res of answers) {
    t.equal(res.headers["x-content-type-options"], "nosniff");
    t.ok(res.headers["strict-transport-security"], "HSTS");
    t.ok(res.headers["content-security-policy"], "CSP");
    t.equal(res.headers["x-frame-options"], "SAMEORIGIN");
    t.equal(res.headers["access-control-allow-origin"], undefined, "no CORS");
  }
  const preflight = await h.app.inject({ method: "OPTIONS", url: "/api/v1/operator/channel", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } });
  t.equal(preflight.headers["access-control-allow-origin"], undefined);
  const docs = await h.app.inject("/docs/");
  t.ok([200, 302].includes(docs.statusCode), `docs served (${docs.statusCode})`);
});

t.test("metrics: requests, caches, verifications, promotions, fleet", async (t) => {
  const h = await testApp(t);
  const promotes = async () => Number(/^chartroom_promotions_total\{action="promote"\} (\d+)/m.exec((await h.app.inject("/metrics")).body)?.[1] ?? 0);
  t.equal(await promotes(), 3, "the seed's declared moves (apply) are counted where they happen, as promotes");
  const license = h.license({ sub: "metered" });
  await h.poll(license);
  await h.poll(license);
  await h.poll("garbage");
  await h.admin("POST", "/channels/stable/promote", { release: "0.59.2" }, "release-engineer");
  await h.ctx.fleet.flush(true);
  const res = await h.app.inject("/metrics");
  t.equal(res.statusCode, 200);
  t.match(res.headers["content-type"], /text\/plain/);
  const text = res.body;
  const value = (re: RegExp) => Number(re.exec(text)?.[1]);
  t.equal(value(/^chartroom_license_verifications_total\{outcome="ok"\} (\d+)/m), 2);
  t.equal(value(/^chartroom_license_verifications_total\{outcome="LICENSE_MALFORMED"\} (\d+)/m), 1);
  t.equal(value(/^chartroom_promotions_total\{action="promote"\} (\d+)/m), 3 + 1, "and the admin API's promote");
  t.ok(value(/^chartroom_spec_cache_hits_total (\d+)/m) >= 1, "spec cache hit counted");
  t.ok(value(/^chartroom_spec_cache_misses_total (\d+)/m) >= 1, "spec cache miss counted");
  t.ok(value(/^chartroom_license_cache_hits_total (\d+)/m) >= 1, "license cache hit counted");
  t.equal(value(/^chartroom_fleet_licensees\{channel="stable",release="0\.58\.1"\} (\d+)/m), 1, "the fleet gauge");
  t.equal(value(/^chartroom_instances\{channel="stable",release="0\.58\.1"\} (\d+)/m), 1, "and its old name, kept for dashboards");
  t.equal(value(/^chartroom_database_up (\d+)/m), 1);
  t.match(text, /chartroom_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/operator\/channel",status="200"\} 2/);
  t.match(text, /chartroom_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/operator\/channel",status="401"\} 1/);
  t.match(text, /chartroom_cache_entries\{cache="license",kind="max"\} 200000/);
  t.match(text, /chartroom_process_resident_memory_bytes/);

  await h.admin("POST", "/channels/stable/rollback", { reason: "metered" }, "release-engineer");
  const after = (await h.app.inject("/metrics")).body;
  t.match(after, /^chartroom_promotions_total\{action="rollback"\} 1$/m, "a rollback");
  t.equal(await promotes(), 4, "promotes unchanged");
});
