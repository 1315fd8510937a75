// The poll pipeline over a real socket: the fastify route renders every
// poll (src/routes/operator.ts) and its renderings are replayed
// (src/routes/poll-replay.ts) byte for byte; the same path at every log
// level; every poll in the request metrics and the fleet exactly once;
// limits and refusals counted once; Redis shared.
import { randomUUID } from "node:crypto";
import t from "tap";
import { redisReachable } from "../helpers/redis.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { PATH, basic, completedLines, get, live, metric, type Answer } from "../helpers/live-polls.js";

const polls = (h: TestApp, status: number, route = PATH) =>
  metric(h, new RegExp(`^chartroom_http_request_duration_seconds_count\\{method="GET",route="${route.replace(/[/:]/g, (c) => `\\${c}`)}",status="${status}"\\} (\\d+)`, "m"));

t.test("every poll, 200 and 304, has the contract's headers and is in the request metrics and the fleet once", async (t) => {
  const h = await testApp(t);
  const base = await live(h);
  const auth = { authorization: basic(h.license({ sub: "one-pipeline" })) };

  const first = await get(base, PATH, auth);
  t.equal(first.status, 200);
  t.equal(JSON.parse(first.body).chart.version, "0.17.4", "the spec of the license's channel");
  t.equal(first.headers["content-type"], "application/json; charset=utf-8");
  t.equal(first.headers["content-length"], String(Buffer.byteLength(first.body)));
  t.equal(first.headers["cache-control"], "no-cache");
  t.match(first.headers.etag, /^"[A-Za-z0-9_-]{32}"$/, "a strong ETag");
  t.equal(first.headers["x-content-type-options"], "nosniff", "the API's security headers");
  t.equal(first.headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
  t.match(first.headers["x-request-id"], /^[0-9a-f]{8}-[0-9a-z]+$/, "a request id of ours");

  const second = await get(base, PATH, auth);
  t.equal(second.body, first.body, "byte-identical while nothing changed");
  t.equal(second.headers.etag, first.headers.etag);
  t.not(second.headers["x-request-id"], first.headers["x-request-id"]);

  const etag = first.headers.etag!;
  const notModified = await get(base, PATH, { ...auth, "if-none-match": etag });
  t.equal(notModified.status, 304);
  t.equal(notModified.body, "");
  t.equal(notModified.headers.etag, etag);
  t.equal((await get(base, PATH, { ...auth, "if-none-match": `W/${etag}, "other"` })).status, 304, "weak comparison over a list");
  t.equal((await get(base, PATH, { ...auth, "if-none-match": '"stale"' })).status, 200, "another ETag gets the body");

  const echoed = await get(base, PATH, { ...auth, "x-request-id": "trace-42" });
  t.equal(echoed.headers["x-request-id"], "trace-42", "a caller's request id is echoed");

  t.equal(await polls(h, 200), 4, "every 200 in chartroom_http_request_duration_seconds");
  t.equal(await polls(h, 304), 2, "every 304 too");
  await h.ctx.fleet.flush(true);
  const row = (await h.ctx.store.fleet.list()).find((i) => i.sub === "one-pipeline");
  t.equal(row?.pollCount, 6, "every poll recorded in the fleet once");

  h.ctx.watcher.stop(); // its next check would say the database is up
  h.ctx.health.databaseDown = true;
  const stale = await get(base, PATH, auth);
  t.equal(stale.status, 200);
  t.equal(stale.headers["x-chartroom-stale"], "true", "an outage answer is marked");
  t.equal(await metric(h, /^chartroom_stale_responses_total (\d+)/m), 1);
  h.ctx.health.databaseDown = false;
  t.notOk((await get(base, PATH, auth)).headers["x-chartroom-stale"], "and unmarked once the database is back");
});

t.test("a never-seen license is verified once; refusals are counted once and rendered by the error handler", async (t) => {
  const h = await testApp(t);
  const base = await live(h);
  t.equal((await get(base, PATH, { authorization: basic(h.license({ sub: "cold" })) })).status, 200);
  t.equal(await metric(h, /^chartroom_license_verifications_total\{outcome="ok"\} (\d+)/m), 1);

  // A signature byte changed (not the last character: its low bits are padding).
  const good = h.license({ sub: "forged" });
  const at = good.length - 10;
  const forged = good.slice(0, at) + (good[at] === "A" ? "B" : "A") + good.slice(at + 1);
  const bad = await get(base, PATH, { authorization: basic(forged) });
  t.equal(bad.status, 401);
  t.equal(JSON.parse(bad.body).code, "LICENSE_BAD_SIGNATURE");
  t.equal(bad.headers["www-authenticate"], 'Basic realm="chartroom"');
  t.equal(await metric(h, /^chartroom_license_verifications_total\{outcome="LICENSE_BAD_SIGNATURE"\} (\d+)/m), 1, "one refusal, counted once");
  t.equal(await polls(h, 401), 1, "and in the request metrics");

  const jti = "revoked-while-cached";
  const token = h.license({ sub: "soon-revoked", jti });
  t.equal((await get(base, PATH, { authorization: basic(token) })).status, 200, "cached now");
  h.ctx.revocations.add(jti);
  const revoked = await get(base, PATH, { authorization: basic(token) });
  t.equal(revoked.status, 403);
  t.equal(JSON.parse(revoked.body).code, "LICENSE_REVOKED", "a cached license is still checked against revocations");
});

t.test("limits: per licensee on every poll, per IP only where a signature is checked; one count per request", async (t) => {
  const h = await testApp(t, { env: { RATE_LIMIT_LICENSE_PER_MINUTE: "3", RATE_LIMIT_IP_PER_MINUTE: "6" } });
  const base = await live(h);
  const auth = { authorization: basic(h.license({ sub: "greedy" })) };
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await get(base, PATH, auth)).status);
  t.same(statuses, [200, 200, 200, 429, 429], "3 allowed, then refused");
  const limited = await get(base, PATH, auth);
  t.equal(JSON.parse(limited.body).code, "RATE_LIMITED");
  t.ok(Number(limited.headers["retry-after"]) >= 1, `Retry-After ${limited.headers["retry-after"]}`);
  t.equal(await metric(h, /^chartroom_rate_limited_total\{limit="license"\} (\d+)/m), 3, "each refusal counted once");

  // greedy's first poll was the one signature check from this IP so far: 5 more are allowed.
  const codes: number[] = [];
  for (let i = 0; i < 6; i++) codes.push((await get(base, PATH, { authorization: basic(`not-a-jwt-${i}`) })).status);
  t.same(codes, [401, 401, 401, 401, 401, 429], "5 more checks allowed from this IP, then 429");
  t.equal((await get(base, "/healthz")).status, 200, "probes are never limited");
  t.equal((await get(base, "/metrics")).status, 200, "nor /metrics");
  t.equal((await get(base, "/openapi.json")).status, 429, "other routes are limited per IP");
});

t.test("a revoked license is refused until its own limit is spent, then 429, routed and replayed; its licensee's new license is not starved", async (t) => {
  const h = await testApp(t, { env: { RATE_LIMIT_LICENSE_PER_MINUTE: "3" } });
  const base = await live(h);
  const leaked = basic(h.license({ sub: "leaky", jti: "leaked-1" }));
  t.equal((await get(base, PATH, { authorization: leaked })).status, 200, "verified and cached (one of leaky's 3)");
  h.ctx.revocations.add("leaked-1");
  // Replayed path: the listener admits the cached license and hands the refusal to fastify.
  const replayed: Answer[] = [];
  for (let i = 0; i < 4; i++) replayed.push(await get(base, PATH, { authorization: leaked }));
  t.same(replayed.map((a) => a.status), [403, 403, 403, 429], "3 refusals as revoked, then 429 (N+1 polls at a limit of N)");
  t.equal(JSON.parse(replayed[3]!.body).code, "RATE_LIMITED");
  t.ok(Number(replayed[3]!.headers["retry-after"]) >= 1, `Retry-After ${replayed[3]!.headers["retry-after"]}`);

  // Routed path (inject: fastify's hook admits), with a license revoked before it was ever seen.
  const never = basic(h.license({ sub: "leaky", jti: "leaked-2" }));
  h.ctx.revocations.add("leaked-2");
  const routed: number[] = [];
  for (let i = 0; i < 4; i++) routed.push((await h.app.inject({ url: PATH, headers: { authorization: never } })).statusCode);
  t.same(routed, [403, 403, 403, 429], "the same on the route");

  const fresh = { authorization: basic(h.license({ sub: "leaky", jti: "current" })) };
  t.same([(await get(base, PATH, fresh)).status, (await get(base, PATH, fresh)).status, (await get(base, PATH, fresh)).status], [200, 200, 429], "the licensee's current license keeps its own budget (2 left of 3)");
  t.equal(await metric(h, /^chartroom_license_verifications_total\{outcome="LICENSE_REVOKED"\} (\d+)/m), 8, "every revoked poll is still counted as revoked");
  t.equal(await metric(h, /^chartroom_rate_limited_total\{limit="license"\} (\d+)/m), 3, "the refusals, under the licensee limit");
});

// Behind a proxy (TRUST_PROXY): test/routes/trust-proxy.test.ts.

t.test("a replayed poll is the route's answer: same bytes, same headers, its hooks' headers included", async (t) => {
  const h = await testApp(t, { env: { OPERATOR_LOG_LEVEL: "info" }, captureLogs: true });
  // A hook added to the app later: its constant header is in the replay.
  h.app.addHook("onSend", (_req, reply, payload, done) => {
    reply.header("x-constant", "same-every-time");
    done(null, payload);
  });
  const base = await live(h);
  const auth = { authorization: basic(h.license({ sub: "replayed" })) };
  const answers: Answer[] = [];
  for (let i = 0; i < 4; i++) answers.push(await get(base, PATH, auth));
  t.same(completedLines(h), [2, 2], "two renderings by fastify, then replayed");
  const stable = (a: Answer) => Object.fromEntries(Object.entries(a.headers).filter(([k]) => !["date", "x-request-id", "keep-alive", "connection"].includes(k)));
  for (const a of answers.slice(2)) {
    t.equal(a.body, answers[0]!.body, "same bytes");
    t.same(stable(a), stable(answers[0]!), "same headers");
  }
  t.equal(answers[3]!.headers["x-constant"], "same-every-time", "a hook's constant header is in the replay");
  t.not(answers[3]!.headers["x-request-id"], answers[2]!.headers["x-request-id"], "a request id per poll");

  const etag = answers[0]!.headers.etag!;
  for (let i = 0; i < 3; i++) t.equal((await get(base, PATH, { ...auth, "if-none-match": etag })).status, 304);
  t.same(completedLines(h), [4, 3], "the 304 too, once rendered twice");

  t.equal(await polls(h, 200), 4, "every 200 in the request metrics, replayed or not");
  t.equal(await polls(h, 304), 3);
  await h.ctx.fleet.flush(true);
  t.equal((await h.ctx.store.fleet.list()).find((i) => i.sub === "replayed")?.pollCount, 7, "and in the fleet once");

  h.ctx.specs.invalidate();
  t.equal((await get(base, PATH, auth)).status, 200, "a new serialized spec after a change");
  t.same(completedLines(h), [5, 3], "is rendered by fastify again");
});

t.test("HEAD polls are answered by the route and never become what a GET replays", async (t) => {
  const h = await testApp(t, { env: { OPERATOR_LOG_LEVEL: "info" }, captureLogs: true });
  const base = await live(h);
  const auth = { authorization: basic(h.license({ sub: "head" })) };
  const etag = (await get(base, PATH, auth)).headers.etag!;
  const routed304 = await get(base, PATH, { ...auth, "if-none-match": etag });
  for (let i = 0; i < 3; i++) t.equal((await get(base, PATH, { ...auth, "if-none-match": etag }, "HEAD")).status, 304);
  for (let i = 0; i < 3; i++) {
    const a = await get(base, PATH, { ...auth, "if-none-match": etag });
    t.equal(a.status, 304);
    t.equal(a.headers["content-length"], routed304.headers["content-length"], "a GET 304 has the route's GET headers");
  }
  // Routed: the GET 200, the first two GET 304s and the three HEADs; the GET 304s after them replayed.
  t.same(completedLines(h), [6, 2], "only GET renderings are confirmed");
});

t.test("a hook whose headers differ per answer keeps every poll on the route", async (t) => {
  const h = await testApp(t, { env: { OPERATOR_LOG_LEVEL: "info" }, captureLogs: true });
  let n = 0;
  h.app.addHook("onSend", (_req, reply, payload, done) => {
    reply.header("x-answer", String(++n));
    done(null, payload);
  });
  const base = await live(h);
  const auth = { authorization: basic(h.license({ sub: "varying" })) };
  const seen: string[] = [];
  for (let i = 0; i < 4; i++) seen.push((await get(base, PATH, auth)).headers["x-answer"]!);
  t.same(seen, ["1", "2", "3", "4"], "the hook ran for every poll");
  t.same(completedLines(h), [4, 0], "renderings that disagree are never replayed");
});

t.test("the log level changes what is logged, not the path a poll takes", async (t) => {
  for (const level of ["warn", "info"]) {
    const h = await testApp(t, { env: { OPERATOR_LOG_LEVEL: level }, captureLogs: true });
    const base = await live(h);
    const auth = { authorization: basic(h.license({ sub: `logged-${level}` })) };
    for (let i = 0; i < 3; i++) t.equal((await get(base, PATH, auth)).status, 200);
    t.equal(await polls(h, 200), 3, `${level}: in the request metrics`);
    await h.ctx.fleet.flush(true);
    t.equal((await h.ctx.store.fleet.list()).find((i) => i.sub === `logged-${level}`)?.pollCount, 3, `${level}: in the fleet`);
    t.same(completedLines(h), level === "info" ? [2, 1] : [0, 0], `${level}: a line per poll at info only, the third replayed either way`);
  }
});

const redisUp = await redisReachable();
if (!redisUp && process.env.CI) t.fail("Redis is required in CI at 127.0.0.1:6379");
const noRedis = redisUp ? false : "skipped: no Redis at 127.0.0.1:6379";

t.test("with REDIS_URL the licensee limit is shared by two replicas", { skip: noRedis }, async (t) => {
  const env = { RATE_LIMIT_LICENSE_PER_MINUTE: "3", REDIS_URL: "redis://127.0.0.1:6379" };
  const a = await testApp(t, { env });
  const b = await testApp(t, { env, databaseUrl: a.url, seed: false });
  const [baseA, baseB] = [await live(a), await live(b)];
  const sub = `shared-${randomUUID()}`;
  const codes: number[] = [];
  for (let i = 0; i < 3; i++) {
    codes.push((await get(baseA, PATH, { authorization: basic(a.license({ sub })) })).status);
    codes.push((await get(baseB, PATH, { authorization: basic(b.license({ sub })) })).status);
  }
  t.same(codes, [200, 200, 200, 429, 429, 429], "3 allowed across both replicas, then refused on both");
});

t.test("with REDIS_URL a revoked license's limit and the anonymous per-IP limit are shared by two replicas", { skip: noRedis }, async (t) => {
  const env = { RATE_LIMIT_LICENSE_PER_MINUTE: "2", RATE_LIMIT_IP_PER_MINUTE: "3", ANONYMOUS_CHANNEL: "stable", TRUST_PROXY: "loopback", REDIS_URL: "redis://127.0.0.1:6379" };
  const a = await testApp(t, { env });
  const b = await testApp(t, { env, databaseUrl: a.url, seed: false });
  const [baseA, baseB] = [await live(a), await live(b)];
  // Addresses of their own per run: Redis keeps its windows across runs.
  const newIp = () => `2001:db8::${randomUUID().slice(0, 4)}:${randomUUID().slice(0, 4)}`;
  const jti = `revoked-${randomUUID()}`;
  // Each replica has a signing key of its own: one token each, the same license (jti).
  const sub = `shared-${randomUUID()}`;
  const ip = newIp();
  const [revokedA, revokedB] = [a, b].map((h) => ({ authorization: basic(h.license({ sub, jti })), "x-forwarded-for": ip }));
  a.ctx.revocations.add(jti);
  b.ctx.revocations.add(jti);
  const codes: number[] = [];
  for (let i = 0; i < 2; i++) {
    codes.push((await get(baseA, PATH, revokedA)).status);
    codes.push((await get(baseB, PATH, revokedB)).status);
  }
  t.same(codes, [403, 403, 429, 429], "2 refusals as revoked across both replicas, then 429 on both");

  const client = newIp();
  const anonymous: number[] = [];
  for (let i = 0; i < 2; i++) {
    anonymous.push((await get(baseA, PATH, { "x-forwarded-for": client })).status);
    anonymous.push((await get(baseB, PATH, { "x-forwarded-for": client })).status);
  }
  t.same(anonymous, [200, 200, 200, 429], "3 anonymous polls from one address across both replicas, then 429");
});

// A Redis that stops answering or refuses connections: test/routes/redis-outage.test.ts
// (the real Redis behind a proxy that is frozen or closed).
