// The in-memory fixed window (src/services/rate-limits.ts): counts per key
// within a window, a new window starts empty, and the key bound holds.
import t from "tap";
import { FixedWindowCounter, createRateLimits } from "../../src/services/rate-limits.js";

t.test("counts per key within the window; the next window starts empty", async (t) => {
  let now = 1_000;
  const c = new FixedWindowCounter(60_000, 10, () => now);
  t.same(c.incr("a"), { current: 1, ttlMs: 60_000 });
  now += 20_000;
  t.same(c.incr("a"), { current: 2, ttlMs: 40_000 }, "same window: the count grows, the time left shrinks");
  t.same(c.incr("b"), { current: 1, ttlMs: 40_000 }, "keys are counted apart");
  now += 40_000;
  t.same(c.incr("a"), { current: 1, ttlMs: 60_000 }, "the window ended: counting starts again");
});

t.test("beyond the key bound, new keys are not counted until the window ends", async (t) => {
  let now = 0;
  const c = new FixedWindowCounter(60_000, 2, () => now);
  c.incr("a");
  c.incr("b");
  t.equal(c.incr("c").current, 1);
  t.equal(c.incr("c").current, 1, "a key beyond the bound is not kept");
  t.equal(c.incr("a").current, 2, "keys already held are still counted");
  now = 60_000;
  c.incr("c");
  t.equal(c.incr("c").current, 2, "a new window has room again");
});

t.test("a limit refuses past its maximum with the seconds left, counts refusals, and 0 turns it off", async (t) => {
  const refused: string[] = [];
  const limits = await createRateLimits({ ipPerMinute: 2, licensePerMinute: 0, adminPerMinute: 1, onRefused: (l) => refused.push(l), onStoreError: () => t.fail("no store") });
  t.equal(limits.license, null, "0: no limiter");
  t.equal(limits.ip!.take("x"), true);
  t.equal(limits.ip!.take("x"), true);
  const v = limits.ip!.take("x");
  t.ok(typeof v === "number" && v >= 1 && v <= 60, `refused, retry in ${String(v)} s`);
  t.equal(limits.ip!.take("y"), true, "another key is not limited");
  t.equal(limits.admin!.take("x"), true, "each limit counts apart");
  t.same(refused, ["ip"]);
  await limits.close();
});
