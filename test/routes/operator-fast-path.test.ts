// The operator fast path (src/routes/operator-fast-path.ts) over a real
// socket: it answers exactly like the fastify route, hands everything else
// to fastify, and never decides, counts or limits a request twice.
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import t from "tap";
import { redisReachable } from "../helpers/redis.js";
import { testApp, type TestApp } from "../helpers/app.js";

const PATH = "/api/v1/operator/channel";
const basic = (token: string) => `Basic ${Buffer.from(`license:${token}`).toString("base64")}`;
/** Per-connection and per-request headers, not part of the answer. */
const VOLATILE = new Set(["date", "x-request-id", "connection", "keep-alive"]);

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Listens on a free port, after one poll through inject() has loaded the
 * spec cache (a first poll waits for the database, through fastify).
 */
async function live(h: TestApp): Promise<string> {
  // A sub of its own: Redis-backed limits are shared across runs.
  await h.poll(h.license({ sub: `warm-up-${randomUUID()}` }));
  await h.app.listen({ port: 0, host: "127.0.0.1" });
  return `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
}

async function get(base: string, path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Answer> {
  const res = await fetch(base + path, { method, headers: { "user-agent": "Go-http-client/1.1", ...headers } });
  return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
}

function stable(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !VOLATILE.has(k)));
}

/** Metric values from /metrics: `name{labels} value`. */
async function metric(h: TestApp, pattern: RegExp): Promise<number> {
  const text = await h.ctx.metrics.registry.metrics();
  return Number(pattern.exec(text)?.[1] ?? 0);
}
const fastAnswers = (h: TestApp, status = 200) => metric(h, new RegExp(`^chartroom_operator_fast_responses_total\\{status="${status}"\\} (\\d+)`, "m"));
const routedPolls = (h: TestApp, status: number) =>
  metric(h, new RegExp(`^chartroom_http_request_duration_seconds_count\\{method="GET",route="/api/v1/operator/channel",status="${status}"\\} (\\d+)`, "m"));

t.test("a poll answered from memory equals the fastify route's answer, 200 and 304", async (t) => {
  const h = await testApp(t);
  const base = await live(h);
  const auth = { authorization: basic(h.license({ sub: "same-answer" })) };

  const fast = await get(base, PATH, auth);
  t.equal(await fastAnswers(h), 1, "answered by the fast path");
  t.equal(await routedPolls(h, 200), 1, "not by the router (1: the warm-up)");
  // A query string is not the fast path's exact URL: fastify answers the same route.
  const routed = await get(base, `${PATH}?via=router`, auth);
  t.equal(await fastAnswers(h), 1, "the query string went to fastify");
  t.equal(await routedPolls(h, 200), 2);

  t.equal(fast.status, 200);
  t.equal(routed.status, 200);
  t.equal(fast.body, routed.body, "same bytes");
  t.same(stable(fast.headers), stable(routed.headers), "same headers");
  t.equal(fast.headers["content-type"], "application/json; charset=utf-8");
  t.equal(fast.headers["content-length"], String(Buffer.byteLength(fast.body)));
  t.equal(fast.headers["cache-control"], "no-cache");
  t.match(fast.headers["x-request-id"], /^[0-9a-f]{8}-[0-9a-z]+$/, "a request id of ours");
  t.match(routed.headers["x-request-id"], /^[0-9a-f]{8}-[0-9a-z]+$/, "the same kind on the router");
  t.not(fast.headers["x-request-id"], routed.headers["x-request-id"]);
  t.equal(JSON.parse(fast.body).chart.version, "0.17.4", "the spec of the license's channel");

  const etag = fast.headers.etag!;
  const fast304 = await get(base, PATH, { ...auth, "if-none-match": etag });
  const routed304 = await get(base, `${PATH}?via=router`, { ...auth, "if-none-match": `W/${etag}, "other"` });
  t.equal(fast304.status, 304);
  t.equal(routed304.status, 304);
  t.equal(await fastAnswers(h, 304), 1, "the 304 came from the fast path");
  t.equal(fast304.body, "");
  t.same(stable(fast304.headers), stable(routed304.headers), "same 304 headers");
  t.equal((await get(base, PATH, { ...auth, "if-none-match": '"stale"' })).status, 200, "another ETag gets the body");

  await h.ctx.fleet.flush(true);
  const row = (await h.ctx.store.instances.list()).find((i) => i.sub === "same-answer");
  t.ok(row, "the fleet recorded the licensee");
  t.equal(row?.pollCount, 5, "every poll counted once, whichever path answered it");
});

t.test("a never-seen license is verified on the fast path; refusals are rendered by fastify and counted once", async (t) => {
  const h = await testApp(t);
  const base = await live(h);
  const fresh = await get(base, PATH, { authorization: basic(h.license({ sub: "cold" })) });
  t.equal(fresh.status, 200);
  t.equal(await fastAnswers(h), 1, "verified and answered without the router");
  t.equal(await metric(h, /^chartroom_license_verifications_total\{outcome="ok"\} (\d+)/m), 2, "the warm-up and this one");

  // A signature byte changed (not the last character: its low bits are padding).
  const good = h.license({ sub: "forged" });
  const at = good.length - 10;
  const forged = good.slice(0, at) + (good[at] === "A" ? "B" : "A") + good.slice(at + 1);
  const bad = await get(base, PATH, { authorization: basic(forged) });
  t.equal(bad.status, 401);
  t.equal(JSON.parse(bad.body).code, "LICENSE_BAD_SIGNATURE");
  t.equal(bad.headers["www-authenticate"], 'Basic realm="chartroom"');
  t.equal(await metric(h, /^chartroom_license_verifications_total\{outcome="LICENSE_BAD_SIGNATURE"\} (\d+)/m), 1, "one refusal, counted once");
  t.equal(await routedPolls(h, 401), 1, "rendered by fastify's error handler");

  const missing = await get(base, PATH);
  t.equal(missing.status, 401);
  t.equal(JSON.parse(missing.body).code, "LICENSE_MISSING");

  const jti = "revoked-on-fast-path";
  const token = h.license({ sub: "soon-revoked", jti });
  t.equal((await get(base, PATH, { authorization: basic(token) })).status, 200, "cached now");
  h.ctx.revocations.add(jti);
  const revoked = await get(base, PATH, { authorization: basic(token) });
  t.equal(revoked.status, 403);
  t.equal(JSON.parse(revoked.body).code, "LICENSE_REVOKED");
});

t.test("limits on the fast path: per licensee and per IP, one count per request", async (t) => {
  const h = await testApp(t, { env: { RATE_LIMIT_LICENSE_PER_MINUTE: "3", RATE_LIMIT_IP_PER_MINUTE: "6" } });
  const base = await live(h);
  const auth = { authorization: basic(h.license({ sub: "greedy" })) };
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await get(base, PATH, auth)).status);
  t.same(statuses, [200, 200, 200, 429], "3 allowed, then refused: the refusal handed to fastify was not counted again");
  const limited = await get(base, PATH, auth);
  t.equal(limited.status, 429);
  t.equal(JSON.parse(limited.body).code, "RATE_LIMITED");
  t.ok(Number(limited.headers["retry-after"]) >= 1, `Retry-After ${limited.headers["retry-after"]}`);
  t.equal(await metric(h, /^chartroom_rate_limited_total\{limit="license"\} (\d+)/m), 2, "each refusal counted once");

  // The IP limit guards signature checks: the warm-up and greedy's first poll spent 2 of 6.
  const codes: number[] = [];
  for (let i = 0; i < 6; i++) codes.push((await get(base, PATH, { authorization: basic(`not-a-jwt-${i}`) })).status);
  t.same(codes, [401, 401, 401, 401, 429, 429], "4 more checks allowed from this IP, then 429");
});

t.test("handed to fastify: a caller's request id, HEAD, other paths, an outage, an empty cache, shutdown", async (t) => {
  const h = await testApp(t);
  const base = await live(h);
  const auth = { authorization: basic(h.license({ sub: "handover" })) };

  const echoed = await get(base, PATH, { ...auth, "x-request-id": "trace-42" });
  t.equal(echoed.status, 200);
  t.equal(echoed.headers["x-request-id"], "trace-42", "the caller's id is echoed");
  t.equal(await fastAnswers(h), 0, "by fastify");

  const head = await get(base, PATH, auth, "HEAD");
  t.equal(head.status, 200);
  t.equal(await fastAnswers(h), 0, "HEAD goes to fastify");

  h.ctx.specs.invalidate();
  t.equal((await get(base, PATH, auth)).status, 200, "an emptied spec cache: fastify waits for the load");
  t.equal(await fastAnswers(h), 0);
  t.equal((await get(base, PATH, auth)).status, 200);
  t.equal(await fastAnswers(h), 1, "and the next poll is from memory again");

  h.ctx.health.databaseDown = true;
  const stale = await get(base, PATH, auth);
  t.equal(stale.status, 200);
  t.equal(stale.headers["x-chartroom-stale"], "true", "an outage is marked, by fastify");
  t.equal(await fastAnswers(h), 1);
  h.ctx.health.databaseDown = false;

  t.equal((await get(base, "/healthz")).status, 200, "other routes are fastify's");

  const closing = h.app.close();
  const during = await get(base, PATH, auth).catch((err: Error) => err);
  await closing;
  t.ok(during instanceof Error || during.status === 503, "no answer from memory once closing");
  t.equal(await fastAnswers(h), 1);
});

t.test("behind a trusted proxy, a new license goes to fastify (which knows the client's address)", async (t) => {
  const h = await testApp(t, { env: { TRUST_PROXY: "true", RATE_LIMIT_IP_PER_MINUTE: "2" } });
  const base = await live(h);
  const fwd = { "x-forwarded-for": "198.51.100.9" };
  const auth = { authorization: basic(h.license({ sub: "proxied" })), ...fwd };
  t.equal((await get(base, PATH, auth)).status, 200);
  t.equal(await fastAnswers(h), 0, "verified by fastify");
  t.equal((await get(base, PATH, auth)).status, 200);
  t.equal(await fastAnswers(h), 1, "then answered from memory");
  t.equal((await get(base, PATH, { authorization: basic("x"), ...fwd })).status, 401);
  t.equal((await get(base, PATH, { authorization: basic("y"), ...fwd })).status, 429, "the forwarded client's address was limited");
  t.equal((await get(base, PATH, { authorization: basic("z"), "x-forwarded-for": "198.51.100.10" })).status, 401, "another client is not");
});

const redisUp = await redisReachable();
if (!redisUp && process.env.CI) t.fail("Redis is required in CI at 127.0.0.1:6379");

t.test("with REDIS_URL, the fast path waits for the shared count", { skip: redisUp ? false : "skipped: no Redis at 127.0.0.1:6379" }, async (t) => {
  const env = { RATE_LIMIT_LICENSE_PER_MINUTE: "3", REDIS_URL: "redis://127.0.0.1:6379" };
  const a = await testApp(t, { env });
  const b = await testApp(t, { env, databaseUrl: a.url, seed: false });
  const [baseA, baseB] = [await live(a), await live(b)];
  const sub = `fast-shared-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const codes: number[] = [];
  for (let i = 0; i < 3; i++) {
    codes.push((await get(baseA, PATH, { authorization: basic(a.license({ sub })) })).status);
    codes.push((await get(baseB, PATH, { authorization: basic(b.license({ sub })) })).status);
  }
  t.same(codes, [200, 200, 200, 429, 429, 429], "3 allowed across both replicas, then refused on both");
  t.ok((await fastAnswers(a)) >= 1 && (await fastAnswers(b)) >= 1, "both answered from memory while allowed");
});

t.test("with OPERATOR_LOG_LEVEL=info every poll goes through fastify (which logs it)", async (t) => {
  const h = await testApp(t, { env: { OPERATOR_LOG_LEVEL: "info" } });
  const base = await live(h);
  const auth = { authorization: basic(h.license({ sub: "logged" })) };
  t.equal((await get(base, PATH, auth)).status, 200);
  t.equal((await get(base, PATH, auth)).status, 200);
  t.equal(await fastAnswers(h), 0, "no poll answered from memory");
  t.equal(await routedPolls(h, 200), 3, "all through the router (and the warm-up)");
});
