// A Redis that hangs (issue 13): the rate-limit store behind a proxy the
// test freezes with SIGSTOP, so connections stay open and nothing answers.
// Limits fail open within their command timeout (never a 5xx, never a
// stalled request), the skipped checks are counted, and once Redis answers
// again the limits apply again without a restart. Latencies are measured
// and reported.
import t from "tap";
import { randomUUID } from "node:crypto";
import { testApp } from "../helpers/app.js";
import { eventually } from "../helpers/eventually.js";
import { freezableProxy } from "../helpers/freezable-proxy.js";
import { REDIS_URL, redisReachable } from "../helpers/redis.js";
import { call } from "../routes/admin/fixtures/admin-helpers.js";
import { timed } from "./fault-helpers.js";

const reachable = await redisReachable();
if (!reachable) {
  if (process.env.CI) t.fail(`Redis is required in CI at ${REDIS_URL}`);
  else t.comment(`*** skipped: no Redis at ${REDIS_URL} — the hung-Redis test needs it ***`);
}

/** A limit check waits at most the command timeout (250 ms); the rest is room for a slow machine. */
const BOUND_MS = 2000;
const LIMIT = 3;

t.test("a frozen Redis: requests go through unlimited within the command timeout, counted; limits apply again when it answers", { skip: reachable ? false : "no Redis" }, async (t) => {
  const { hostname, port } = new URL(REDIS_URL);
  const proxy = await freezableProxy({ host: hostname, port: Number(port || 6379) });
  t.teardown(() => proxy.close());
  const h = await testApp(t, { env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, RATE_LIMIT_ADMIN_PER_MINUTE: String(LIMIT) } });
  const sub = `redis-hung-${randomUUID()}@example.com`;
  const read = () => call(h, "GET", "/releases", { role: "viewer", sub });

  const before: number[] = [];
  for (let i = 0; i <= LIMIT; i++) before.push((await read()).statusCode);
  t.same(before, [...Array(LIMIT).fill(200), 429], "limited through the proxy before the fault");

  proxy.freeze();
  t.teardown(() => proxy.thaw());
  for (let i = 1; i <= 5; i++) {
    const res = await timed(t, `frozen: admin read ${i} (over the limit)`, BOUND_MS, read);
    t.equal(res?.statusCode, 200, `frozen: admin read ${i} let through unlimited`);
  }
  const poll = await timed(t, "frozen: poll", BOUND_MS, () => h.poll(h.license({ sub: `redis-hung-${randomUUID()}` })));
  t.equal(poll?.statusCode, 200, "frozen: polls answered");
  const metrics = await h.ctx.metrics.registry.metrics();
  const skipped = [...metrics.matchAll(/^chartroom_rate_limit_store_errors_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  t.ok(skipped >= 5, `skipped checks are counted (${skipped})`);

  const thawedAt = performance.now();
  proxy.thaw();
  const limited = await eventually(async () => (await read()).statusCode === 429, { within: 10_000, every: 100 });
  t.ok(limited.ok, `limits apply again after the thaw, no restart (${limited.summary})`);
  t.comment(`limited again ${Math.round(performance.now() - thawedAt)} ms after the thaw`);
});
