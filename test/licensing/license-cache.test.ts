// The verified-license cache (src/licensing/license-cache.ts): served until
// the license's `exp`, at most `max` entries, least recently used evicted.
import t from "tap";
import { LicenseCache } from "../../src/licensing/license-cache.js";

interface V {
  exp: number;
  kid?: string;
  name: string;
}
const HOUR = 3600;
function make(max = 10) {
  let clock = 1_800_000_000_000;
  const cache = new LicenseCache<V>({ max, now: () => clock });
  const nowSec = () => clock / 1000;
  return { cache, nowSec, later: (sec: number) => (clock += sec * 1000) };
}

t.test("an entry is served until its exp, however far: a hit does not shorten or lengthen it", async (t) => {
  const { cache, nowSec, later } = make();
  cache.set("year", { exp: nowSec() + 365 * 24 * HOUR, name: "Y" });
  cache.set("hour", { exp: nowSec() + HOUR, name: "H" });
  later(HOUR - 1);
  t.equal(cache.get("hour")?.name, "H", "one second before exp");
  later(1);
  t.equal(cache.get("hour"), undefined, "not at exp");
  t.equal(cache.size, 1, "an expired entry found is dropped");
  later(300 * 24 * HOUR);
  t.equal(cache.get("year")?.name, "Y", "300 days later (an hourly poller is warm all along)");
});

t.test("full: the least recently used entry is evicted, and a hit makes an entry recent", async (t) => {
  const { cache, nowSec } = make(3);
  const v = (name: string): V => ({ exp: nowSec() + HOUR, name });
  cache.set("a", v("a"));
  cache.set("b", v("b"));
  cache.set("c", v("c"));
  t.equal(cache.get("a")?.name, "a", "a used: b is now the least recently used");
  cache.set("d", v("d"));
  t.equal(cache.size, 3);
  t.equal(cache.get("b"), undefined, "b evicted, not a (stored first, but used since)");
  t.same(["a", "c", "d"].map((k) => cache.get(k)?.name), ["a", "c", "d"]);
  cache.set("e", v("e")); // a, c, d were used in that order: a goes
  t.same(["a", "c", "d", "e"].map((k) => cache.get(k)?.name), [undefined, "c", "d", "e"]);
});

t.test("storing a key again keeps one copy, the newest, without evicting", async (t) => {
  const { cache, nowSec } = make(2);
  cache.set("a", { exp: nowSec() + HOUR, name: "old" });
  cache.set("b", { exp: nowSec() + HOUR, name: "b" });
  cache.set("a", { exp: nowSec() + HOUR, name: "new" });
  t.equal(cache.size, 2);
  t.equal(cache.get("a")?.name, "new");
  t.equal(cache.get("b")?.name, "b", "no eviction: a is not counted twice");
});

t.test("deleteWhere drops exactly the matching entries, in one pass", async (t) => {
  const { cache, nowSec } = make(100);
  for (let i = 0; i < 50; i++) cache.set(`k${i}`, { exp: nowSec() + HOUR, kid: i % 5 === 0 ? "old" : "new", name: `${i}` });
  t.equal(cache.deleteWhere((v) => v.kid === "old"), 10);
  t.equal(cache.size, 40);
  t.equal(cache.get("k0"), undefined);
  t.equal(cache.get("k1")?.name, "1");
  t.equal(cache.deleteWhere(() => false), 0);
});

t.test("clear empties the cache", async (t) => {
  const { cache, nowSec } = make();
  cache.set("a", { exp: nowSec() + HOUR, name: "a" });
  cache.clear();
  t.equal(cache.size, 0);
  t.equal(cache.get("a"), undefined);
});
