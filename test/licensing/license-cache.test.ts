// The verified-license cache (src/licensing/license-cache.ts): two
// generations on a fixed schedule, a size bound, oldest evicted first.
import t from "tap";
import { LicenseCache } from "../../src/licensing/license-cache.js";

const GEN = 1000;
function make(max = 10) {
  let clock = 0;
  const cache = new LicenseCache<string>({ max, generationMs: GEN, now: () => clock });
  return { cache, at: (ms: number) => (clock = ms) };
}

t.test("an entry is served for at least one generation and at most two", async (t) => {
  const { cache, at } = make();
  at(900);
  cache.set("late", "L"); // stored near the end of the first generation
  at(1899);
  t.equal(cache.get("late"), "L", "still served in the next generation");
  at(2000);
  t.equal(cache.get("late"), undefined, "dropped when its second generation ends (1.1 s after it was stored)");

  at(2000);
  cache.set("early", "E"); // stored at the very start of a generation
  at(3999);
  t.equal(cache.get("early"), "E", "served for almost two generations");
  at(4000);
  t.equal(cache.get("early"), undefined, "never for two full generations");
});

t.test("a hit does not extend an entry's life", async (t) => {
  const { cache, at } = make();
  cache.set("k", "v");
  for (const ms of [500, 1000, 1500, 1999]) {
    at(ms);
    t.equal(cache.get("k"), "v", `hit at ${ms} ms`);
  }
  at(2000);
  t.equal(cache.get("k"), undefined);
});

t.test("after a quiet time of two generations or more, nothing is served", async (t) => {
  const { cache, at } = make();
  cache.set("k", "v");
  at(1500);
  cache.set("k2", "v2"); // young generation since 1000
  at(5000);
  t.equal(cache.get("k2"), undefined, "k2 was stored 3.5 s ago");
  t.equal(cache.size, 0);
  cache.set("k3", "v3");
  at(6999);
  t.equal(cache.get("k3"), "v3", "the schedule restarts at the quiet time's end");
  at(7000);
  t.equal(cache.get("k3"), undefined);
});

t.test("the size bound counts both generations and evicts the oldest first", async (t) => {
  const { cache, at } = make(3);
  cache.set("a", "1");
  cache.set("b", "2");
  at(1000); // a, b are now old
  cache.set("c", "3");
  cache.set("d", "4"); // full: evicts a (the oldest, in the old generation)
  t.equal(cache.size, 3);
  t.equal(cache.get("a"), undefined);
  t.equal(cache.get("b"), "2");
  cache.set("e", "5"); // evicts b
  cache.set("f", "6"); // old generation empty: evicts c, the oldest young entry
  t.same([cache.get("b"), cache.get("c"), cache.get("d"), cache.get("e"), cache.get("f")], [undefined, undefined, "4", "5", "6"]);
  t.equal(cache.size, 3);
});

t.test("storing a key again keeps one copy, in the young generation", async (t) => {
  const { cache, at } = make(2);
  cache.set("a", "old");
  at(1000);
  cache.set("a", "new"); // re-verified: moves to the young generation
  t.equal(cache.size, 1);
  cache.set("b", "x");
  t.equal(cache.size, 2, "no eviction: a is not counted twice");
  t.equal(cache.get("a"), "new");
  at(2500);
  t.equal(cache.get("a"), "new", "its life counts from the second store");
  cache.set("b", "y");
  cache.set("b", "z");
  t.equal(cache.size, 2, "updating a young key does not evict");
});

t.test("clear empties both generations", async (t) => {
  const { cache, at } = make();
  cache.set("a", "1");
  at(1000);
  cache.set("b", "2");
  cache.clear();
  t.equal(cache.size, 0);
  t.equal(cache.get("a"), undefined);
  t.equal(cache.get("b"), undefined);
});

t.test("a clock set back clears the cache instead of stretching entries' lives", async (t) => {
  const { cache, at } = make();
  at(10_000);
  cache.set("k", "v");
  at(10_600);
  t.equal(cache.get("k"), "v");
  at(3_000); // set back by 7.6 s
  t.equal(cache.get("k"), undefined, "not served: its age can no longer be told");
  t.equal(cache.size, 0);
  cache.set("k2", "v2");
  at(4_999);
  t.equal(cache.get("k2"), "v2", "the schedule restarts from the new time");
  at(5_000);
  t.equal(cache.get("k2"), undefined);
});
