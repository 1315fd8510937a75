// Table tests of the resolver (docs/api.md §7): the release a licensee is
// served, or the refusal, and the rules of the reasons, in order.
import t from "tap";
import { cohortPosition } from "../../src/domain/cohort.js";
import { resolveRelease, type PathFacts, type ReleaseRef, type ResolveFacts, type ResolveRule, type RolloutFacts } from "../../src/services/resolve-release.js";
import type { InstallFacts, PathRelease } from "../../src/services/upgrade-path.js";

const rel = (version: string): ReleaseRef => ({ id: `id-${version}`, version });
const v60 = rel("0.60.0");
const v61 = rel("0.61.0");
const v58 = rel("0.58.1");

const SALT = "rollout-7";
// Subs on known sides of 25 % for SALT (found below, from the formula itself).
function subAt(pred: (position: number) => boolean, prefix: string): string {
  for (let i = 0; ; i++) if (pred(cohortPosition(SALT, `${prefix}-${i}`).value)) return `${prefix}-${i}`;
}
const low = subAt((p) => p < 0.05, "low"); // in at 5 % and above
const mid = subAt((p) => p >= 0.1 && p < 0.25, "mid"); // in at 25 %, out at 5 %
const high = subAt((p) => p >= 0.5, "high"); // out below 50 %

function rollout(over: Partial<RolloutFacts> = {}): RolloutFacts {
  return { id: "r7", target: v61, state: "progressing", percent: 25, include: ["canary"], exclude: ["bigbank", "canary"], salt: SALT, ...over };
}

function facts(over: Partial<ResolveFacts> & { sub?: string; overrides?: boolean; anonymous?: boolean } = {}): ResolveFacts {
  const { sub, overrides, anonymous, ...rest } = over;
  return {
    channel: { name: "stable", release: v60 },
    rollout: null,
    licensee: { sub: sub ?? "customer-1", anonymous: anonymous ?? false, overrides: overrides ?? false },
    ...rest,
  };
}

const v59 = rel("0.59.0");
const pathRel = (r: ReleaseRef, o: Partial<PathRelease> = {}): PathRelease => ({ ...r, required: false, requiredReason: null, upgradeFrom: null, yanked: false, ...o });
/** Path facts: 0.58.1, 0.59.0 (required unless `required` is false) and 0.60.0 held; targets 0.60.0 (with `target`'s facts) and 0.61.0. */
function paths(installed: InstallFacts | null, target: Partial<PathRelease> = {}, required = true): PathFacts {
  const held = [pathRel(v58), pathRel(v59, { required, requiredReason: required ? "schema migration" : null }), pathRel(v60, target)];
  return { held, targets: [pathRel(v60, target), pathRel(v61), ...held], installed, now: Date.UTC(2026, 11, 1), soakMs: 3_600_000 };
}
const installedOn = (version: string): InstallFacts => ({ served: { id: `id-${version}`, version, since: 0, previous: null }, reports: [] });

type Expect = { serve: ReleaseRef; rules: ResolveRule[] } | { refuse: 403 | 404; code: string; rules: ResolveRule[] };

const pin = (release: ReleaseRef, o: { yanked?: boolean; everHeld?: boolean } = {}) => ({ release, yanked: o.yanked ?? false, everHeld: o.everHeld ?? true });

const table: { name: string; facts: ResolveFacts; expect: Expect; detail?: RegExp }[] = [
  // no rollout
  { name: "the channel's release", facts: facts(), expect: { serve: v60, rules: ["channel"] }, detail: /channel stable is at 0\.60\.0$/ },
  { name: "with overrides: same release, the overrides named", facts: facts({ overrides: true }), expect: { serve: v60, rules: ["channel", "overrides"] } },
  { name: "anonymous", facts: facts({ sub: "(anonymous)", anonymous: true }), expect: { serve: v60, rules: ["channel", "anonymous"] } },
  { name: "no release yet: 404", facts: facts({ channel: { name: "stable", release: null } }), expect: { refuse: 404, code: "CHANNEL_HAS_NO_RELEASE", rules: ["channel"] }, detail: /no release yet/ },
  // active rollout, by cohort
  { name: "in the cohort by position: the target", facts: facts({ sub: low, rollout: rollout() }), expect: { serve: v61, rules: ["channel", "rollout-cohort"] }, detail: /is below 25 %/ },
  { name: "at 25 % a mid sub is in", facts: facts({ sub: mid, rollout: rollout() }), expect: { serve: v61, rules: ["channel", "rollout-cohort"] } },
  { name: "at 5 % the same sub is outside", facts: facts({ sub: mid, rollout: rollout({ percent: 5 }) }), expect: { serve: v60, rules: ["channel", "rollout-outside"] }, detail: /not below 5 %/ },
  { name: "outside by position: the channel's release", facts: facts({ sub: high, rollout: rollout() }), expect: { serve: v60, rules: ["channel", "rollout-outside"] } },
  { name: "include: the target even at 0 %", facts: facts({ sub: "canary", rollout: rollout({ percent: 0 }) }), expect: { serve: v61, rules: ["channel", "include"] }, detail: /include wins/ },
  { name: "exclude: the channel's release even at 100 %", facts: facts({ sub: "bigbank", rollout: rollout({ percent: 100 }) }), expect: { serve: v60, rules: ["channel", "exclude"] } },
  { name: "100 %: everyone else gets the target", facts: facts({ sub: high, rollout: rollout({ percent: 100 }) }), expect: { serve: v61, rules: ["channel", "rollout-cohort"] } },
  { name: "in the cohort with overrides", facts: facts({ sub: low, overrides: true, rollout: rollout() }), expect: { serve: v61, rules: ["channel", "rollout-cohort", "overrides"] } },
  { name: "anonymous is one sub like any other", facts: facts({ sub: "(anonymous)", anonymous: true, rollout: rollout({ include: ["(anonymous)"] }) }), expect: { serve: v61, rules: ["channel", "include", "anonymous"] } },
  { name: "in the cohort of a channel with no release: the target", facts: facts({ sub: low, channel: { name: "stable", release: null }, rollout: rollout() }), expect: { serve: v61, rules: ["channel", "rollout-cohort"] } },
  { name: "outside the cohort of a channel with no release: 404", facts: facts({ sub: high, channel: { name: "stable", release: null }, rollout: rollout() }), expect: { refuse: 404, code: "CHANNEL_HAS_NO_RELEASE", rules: ["channel", "rollout-outside"] } },
  // states
  { name: "paused keeps serving its step's cohort", facts: facts({ sub: low, rollout: rollout({ state: "paused" }) }), expect: { serve: v61, rules: ["channel", "rollout-cohort"] }, detail: /is paused at 25 %/ },
  { name: "halted keeps serving its step's cohort", facts: facts({ sub: low, rollout: rollout({ state: "halted" }) }), expect: { serve: v61, rules: ["channel", "rollout-cohort"] } },
  { name: "halted: outside stays outside", facts: facts({ sub: high, rollout: rollout({ state: "halted" }) }), expect: { serve: v60, rules: ["channel", "rollout-outside"] } },
  { name: "completed: no longer active", facts: facts({ sub: "canary", channel: { name: "stable", release: v61 }, rollout: rollout({ state: "completed" }) }), expect: { serve: v61, rules: ["channel"] }, detail: /completed, no longer active/ },
  { name: "aborted: everyone on the channel's release, include too", facts: facts({ sub: "canary", rollout: rollout({ state: "aborted" }) }), expect: { serve: v60, rules: ["channel"] }, detail: /aborted, no longer active/ },
  // pinned
  { name: "pinned: a release the channel held", facts: facts({ pinned: pin(v58) }), expect: { serve: v58, rules: ["channel", "channel"] }, detail: /0\.58\.1 has been the release of channel stable/ },
  { name: "pinned with overrides", facts: facts({ overrides: true, pinned: pin(v58) }), expect: { serve: v58, rules: ["channel", "channel", "overrides"] } },
  { name: "pinned: never held: 403", facts: facts({ pinned: pin(v58, { everHeld: false }) }), expect: { refuse: 403, code: "RELEASE_NOT_ENTITLED", rules: ["channel", "channel"] }, detail: /never been the release/ },
  { name: "pinned: yanked: 403 even if held", facts: facts({ pinned: pin(v58, { yanked: true }) }), expect: { refuse: 403, code: "RELEASE_YANKED", rules: ["channel", "channel"] }, detail: /yanked/ },
  { name: "pinned: the channel's current release", facts: facts({ pinned: pin(v60) }), expect: { serve: v60, rules: ["channel", "channel"] } },
  { name: "pinned: a channel with no release still serves a held one", facts: facts({ channel: { name: "stable", release: null }, pinned: pin(v58) }), expect: { serve: v58, rules: ["channel", "channel"] } },
  { name: "pinned target, in the cohort", facts: facts({ sub: low, rollout: rollout(), pinned: pin(v61, { everHeld: false }) }), expect: { serve: v61, rules: ["channel", "rollout-cohort"] } },
  { name: "pinned target, included", facts: facts({ sub: "canary", rollout: rollout(), pinned: pin(v61, { everHeld: false }) }), expect: { serve: v61, rules: ["channel", "include"] } },
  { name: "pinned target, outside: 403", facts: facts({ sub: high, rollout: rollout(), pinned: pin(v61, { everHeld: false }) }), expect: { refuse: 403, code: "RELEASE_NOT_ENTITLED", rules: ["channel", "rollout-outside"] } },
  { name: "pinned target, excluded: 403", facts: facts({ sub: "bigbank", rollout: rollout(), pinned: pin(v61, { everHeld: false }) }), expect: { refuse: 403, code: "RELEASE_NOT_ENTITLED", rules: ["channel", "exclude"] } },
  { name: "pinned target held before, outside: still only the cohort", facts: facts({ sub: high, rollout: rollout(), pinned: pin(v61, { everHeld: true }) }), expect: { refuse: 403, code: "RELEASE_NOT_ENTITLED", rules: ["channel", "rollout-outside"] } },
  { name: "pinned target, yanked: 403 even in the cohort", facts: facts({ sub: "canary", rollout: rollout(), pinned: pin(v61, { yanked: true }) }), expect: { refuse: 403, code: "RELEASE_YANKED", rules: ["channel", "channel"] } },
  { name: "pinned: another release during a rollout, held", facts: facts({ sub: high, rollout: rollout(), pinned: pin(v58) }), expect: { serve: v58, rules: ["channel", "channel"] } },
  // upgrade paths (docs/api.md §8): the resolver applies src/services/upgrade-path.ts to the release it decided
  { name: "path: installed 0.58.1, 0.59.0 required: the stepping stone", facts: facts({ path: paths(installedOn("0.58.1")) }), expect: { serve: v59, rules: ["channel", "stepping-stone"] }, detail: /stepping stone 0\.59\.0 on the way to 0\.60\.0/ },
  { name: "path: fresh install: the channel's release", facts: facts({ path: paths(null) }), expect: { serve: v60, rules: ["channel", "channel"] }, detail: /fresh install/ },
  { name: "path: anonymous polls follow no path", facts: facts({ sub: "(anonymous)", anonymous: true, path: paths(installedOn("0.58.1")) }), expect: { serve: v60, rules: ["channel", "anonymous"] } },
  { name: "path: no path facts for the target: no path", facts: facts({ path: { ...paths(installedOn("0.58.1")), targets: [] } }), expect: { serve: v60, rules: ["channel"] } },
  { name: "path: a floor nothing meets: no-upgrade-path, served what it has", facts: facts({ path: paths(installedOn("0.59.0"), { upgradeFrom: ">=0.59.5" }, false) }), expect: { serve: v59, rules: ["channel", "no-upgrade-path"] }, detail: /served 0\.59\.0 again/ },
  { name: "path: a needed stone (upgrade floor)", facts: facts({ path: paths(installedOn("0.58.1"), { upgradeFrom: ">=0.59.0" }, false) }), expect: { serve: v59, rules: ["channel", "upgrade-floor"] } },
  { name: "path with a rollout: in the cohort, the path leads to the target", facts: facts({ sub: low, rollout: rollout(), path: paths(installedOn("0.58.1")) }), expect: { serve: v59, rules: ["channel", "rollout-cohort", "stepping-stone"] }, detail: /on the way to 0\.61\.0/ },
  { name: "path with a rollout: outside, the path leads to the channel's release", facts: facts({ sub: high, rollout: rollout(), path: paths(installedOn("0.58.1")) }), expect: { serve: v59, rules: ["channel", "rollout-outside", "stepping-stone"] }, detail: /on the way to 0\.60\.0/ },
  { name: "path with a rollout: on the channel's release, in the cohort: straight to the target", facts: facts({ sub: low, rollout: rollout(), path: paths(installedOn("0.60.0")) }), expect: { serve: v61, rules: ["channel", "rollout-cohort", "channel"] } },
  { name: "path: a pin the installation cannot reach directly: 403 naming the stone", facts: facts({ pinned: pin(v60), path: paths(installedOn("0.58.1")) }), expect: { refuse: 403, code: "UPGRADE_PATH_REQUIRED", rules: ["channel", "channel", "stepping-stone"] } },
  { name: "path: a pin of the stone itself is fine", facts: facts({ pinned: pin(v59), path: paths(installedOn("0.58.1")) }), expect: { serve: v59, rules: ["channel", "channel"] } },
  { name: "path: a pin below the installed version needs no path", facts: facts({ pinned: pin(v58), path: paths(installedOn("0.60.0")) }), expect: { serve: v58, rules: ["channel", "channel"] } },
  { name: "pinned target of an aborted rollout, never held: 403", facts: facts({ sub: "canary", rollout: rollout({ state: "aborted" }), pinned: pin(v61, { everHeld: false }) }), expect: { refuse: 403, code: "RELEASE_NOT_ENTITLED", rules: ["channel", "channel"] } },
];

for (const row of table) {
  t.test(row.name, async (t) => {
    const r = resolveRelease(row.facts);
    if ("serve" in row.expect) {
      t.equal(r.kind, "serve", "served");
      if (r.kind === "serve") t.same(r.release, row.expect.serve, "release");
    } else {
      t.equal(r.kind, "refuse", "refused");
      if (r.kind === "refuse") {
        t.equal(r.status, row.expect.refuse, "status");
        t.equal(r.code, row.expect.code, "code");
        t.ok(r.message.length > 0, "says why");
      }
    }
    t.same(r.reasons.map((x) => x.rule), row.expect.rules, "rules in order");
    for (const x of r.reasons) t.ok(x.detail.length > 0, `${x.rule}: a detail`);
    if (row.detail) t.ok(r.reasons.some((x) => row.detail!.test(x.detail)), `a detail matches ${row.detail}`);
  });
}

t.test("the subs the table uses are where it says", async (t) => {
  t.ok(cohortPosition(SALT, low).value < 0.05, `${low} is below 5 %`);
  const m = cohortPosition(SALT, mid).value;
  t.ok(m >= 0.1 && m < 0.25, `${mid} is between 10 % and 25 %`);
  t.ok(cohortPosition(SALT, high).value >= 0.5, `${high} is at 50 % or above`);
});

t.test("percent only rises: nobody leaves the cohort while the rollout lasts", async (t) => {
  let left = 0;
  for (let i = 0; i < 300; i++) {
    const sub = `licensee-${i}`;
    let wasIn = false;
    for (const percent of [0, 5, 25, 50, 100]) {
      const r = resolveRelease(facts({ sub, rollout: rollout({ percent, include: [], exclude: [] }) }));
      const isIn = r.kind === "serve" && r.release.id === v61.id;
      if (wasIn && !isIn) left++;
      wasIn = isIn;
    }
    t.equal(wasIn, true, `${sub} is in at 100 %`);
  }
  t.equal(left, 0);
});
