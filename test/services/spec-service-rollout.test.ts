// The spec service with an active rollout (src/services/spec-service.ts):
// the side of the cohort each licensee gets, from channelSpec() and from the
// warm poll's cachedChannelSpec() (which asks the compiled cohort test of
// src/domain/cohort.ts at every poll), agrees with the contract's formula
// computed here without Chartroom's code, for hundreds of subs, across a
// step (a new percent: the test is compiled again from the new read); and
// the cache holds one serialized spec per side, never one per licensee.
// The service under test is our own instance on the app's store: the
// app's instance is also emptied by its state check, at a moment of its
// own, which would race with the assertions; ours is emptied only here.
import { createHash } from "node:crypto";
import t, { type Test } from "tap";
import { eachProvider } from "../helpers/db.js";
import { testApp } from "../helpers/app.js";
import { specService } from "../../src/services/spec-service.js";

/** SHA-256(salt:sub), first 8 bytes big-endian, below p %: docs/api.md §7, independently. */
function independentIn(salt: string, sub: string, percent: number, include: string[], exclude: string[]): boolean {
  if (include.includes(sub)) return true;
  if (exclude.includes(sub)) return false;
  const n = createHash("sha256").update(`${salt}:${sub}`, "utf8").digest().readBigUInt64BE(0);
  return n * 100n < BigInt(percent) * (1n << 64n);
}

// ASCII, spaces and slashes, non-ASCII (hashed as UTF-8), the lists' own subs
const SUBS = [...Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? `customer-${i}` : i % 3 === 1 ? `org ${i}/clé-日本` : `${i}@example.com`)), "vip-canary", "bigbank"];
const INCLUDE = ["vip-canary"];
const EXCLUDE = ["bigbank", "vip-canary"];

await eachProvider(t, "each licensee gets its side of the cohort, from one spec per side", async (t: Test, provider) => {
  const h = await testApp(t, { provider });
  const specs = specService(h.ctx.store);
  const salt = "bench-salt-1";
  const start = await h.admin("POST", "/channels/stable/promote", {
    release: "0.59.2",
    from: "beta",
    reason: "rollout",
    rollout: { steps: [{ percent: 30, bake: "30d" }, { percent: 70, bake: "30d" }, { percent: 100 }], include: INCLUDE, exclude: EXCLUDE, salt },
  }, "release-engineer");
  t.equal(start.statusCode, 202, start.body);
  const ids = (await h.admin("GET", "/releases?limit=50", undefined, "viewer")).json().items as { id: string; version: string }[];
  const idOf = (v: string) => ids.find((r) => r.version === v)!.id;

  for (const percent of [30, 70]) {
    if (percent === 70) {
      const adv = await h.admin("POST", "/channels/stable/rollout/advance", { reason: "next", force: true }, "admin");
      t.equal(adv.statusCode, 200, adv.body);
      t.equal(adv.json().rollout.percent, 70);
      specs.invalidate(); // what the app does on a commit
    }
    let inside = 0;
    let wrong = 0;
    let cachedWrong = 0;
    const distinct = new Set<object>();
    for (const sub of SUBS) {
      const want = independentIn(salt, sub, percent, INCLUDE, EXCLUDE);
      if (want) inside++;
      const spec = await specs.channelSpec("stable", sub);
      distinct.add(spec);
      if (spec.releaseId !== idOf(want ? "0.59.2" : "0.58.1")) wrong++;
      // the warm poll's lookup: the very same cached object
      if (specs.cachedChannelSpec("stable", sub) !== spec) cachedWrong++;
    }
    t.equal(wrong, 0, `${percent} %: every one of ${SUBS.length} subs gets its side (${inside} in the cohort)`);
    t.equal(cachedWrong, 0, `${percent} %: cachedChannelSpec() answers the same spec for every sub`);
    t.ok(inside > SUBS.length * (percent / 100 - 0.1) && inside < SUBS.length * (percent / 100 + 0.1), `${percent} %: about ${percent} % are in (${inside})`);
    t.equal(distinct.size, 2, `${percent} %: two distinct specs for ${SUBS.length} licensees`);
    t.equal(specs.stats().size, 2, `${percent} %: the cache holds 2 entries, not one per licensee`);
  }
  t.equal(specs.cachedChannelSpec("stable", "vip-canary")?.releaseId, idOf("0.59.2"), "include wins over exclude");
  t.equal(specs.cachedChannelSpec("stable", "bigbank")?.releaseId, idOf("0.58.1"), "exclude: the channel's release");

  // no active rollout any more: everyone on the channel's release, one entry
  const abort = await h.admin("POST", "/channels/stable/rollout/abort", { reason: "stop" }, "release-engineer");
  t.equal(abort.statusCode, 200, abort.body);
  specs.invalidate();
  for (const sub of SUBS) await specs.channelSpec("stable", sub);
  t.ok(SUBS.every((sub) => specs.cachedChannelSpec("stable", sub)?.releaseId === idOf("0.58.1")), "after the abort, every sub gets the channel's release");
  t.equal(specs.stats().size, 1, "and the cache holds one entry");
});
