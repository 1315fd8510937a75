// Table tests of the promotion rule (docs/api.md §3) and of the rollback target.
import t from "tap";
import { decidePromotion, refuseRollbackTo, rollbackTarget, type HistoryStep, type PolicyFacts, type PromotionFacts, type ReleaseFact, type RollbackFacts } from "../../src/services/promotion-rules.js";

function rel(version: string, yanked = false): ReleaseFact {
  return { id: `id-${version}`, version, yanked };
}

const v100 = rel("1.0.0");
const v110 = rel("1.1.0");
const v120 = rel("1.2.0");
const v110yanked = rel("1.1.0", true);
const rc1 = rel("2.0.0-rc.1");
const rc2 = rel("2.0.0-rc.2");
const rc10 = rel("2.0.0-rc.10");
const alpha = rel("2.0.0-alpha");
const ga = rel("2.0.0");

const NOW = new Date("2026-12-01T12:00:00Z");
const HOUR = 3_600_000;

/** The upstream "beta" at `current`, its release for `servedMs` (default: a day). */
function up(current: ReleaseFact | null, servedMs = 24 * HOUR): NonNullable<PolicyFacts["upstream"]> {
  return { channel: "beta", current, since: new Date(NOW.getTime() - servedMs) };
}

function policy(over: Partial<PolicyFacts>): PolicyFacts {
  return { downgradeRole: "release-engineer", mayDowngrade: true, now: NOW, ...over };
}

function facts(over: Partial<PromotionFacts>): PromotionFacts {
  return { channel: "stable", release: v110, current: v100, allowDowngrade: false, ...over };
}

type Expect =
  | { kind: "move"; action: "promote" | "rollback" }
  | { kind: "noop" }
  | { kind: "refuse"; code: string; field: string };

const table: { name: string; facts: PromotionFacts; expect: Expect }[] = [
  // expectedCurrent: checked first, before every other rule
  { name: "expectedCurrent matches by version", facts: facts({ expectedCurrent: "1.0.0" }), expect: { kind: "move", action: "promote" } },
  { name: "expectedCurrent matches by id", facts: facts({ expectedCurrent: "id-1.0.0" }), expect: { kind: "move", action: "promote" } },
  { name: "expectedCurrent null matches an empty channel", facts: facts({ current: null, expectedCurrent: null }), expect: { kind: "move", action: "promote" } },
  { name: "expectedCurrent stale", facts: facts({ expectedCurrent: "0.9.0" }), expect: { kind: "refuse", code: "PROMOTION_CONFLICT", field: "expectedCurrent" } },
  { name: "expectedCurrent null but the channel has a release", facts: facts({ expectedCurrent: null }), expect: { kind: "refuse", code: "PROMOTION_CONFLICT", field: "expectedCurrent" } },
  { name: "expectedCurrent set but the channel is empty", facts: facts({ current: null, expectedCurrent: "1.0.0" }), expect: { kind: "refuse", code: "PROMOTION_CONFLICT", field: "expectedCurrent" } },
  { name: "expectedCurrent checked even for a no-op", facts: facts({ release: v100, current: v100, expectedCurrent: "0.9.0" }), expect: { kind: "refuse", code: "PROMOTION_CONFLICT", field: "expectedCurrent" } },
  { name: "expectedCurrent checked before yanked", facts: facts({ release: v110yanked, expectedCurrent: "0.9.0" }), expect: { kind: "refuse", code: "PROMOTION_CONFLICT", field: "expectedCurrent" } },
  { name: "expectedCurrent checked before from", facts: facts({ from: { channel: "beta", current: v120 }, expectedCurrent: "0.9.0" }), expect: { kind: "refuse", code: "PROMOTION_CONFLICT", field: "expectedCurrent" } },
  { name: "expectedCurrent checked before downgrade", facts: facts({ release: v100, current: v110, expectedCurrent: "0.9.0" }), expect: { kind: "refuse", code: "PROMOTION_CONFLICT", field: "expectedCurrent" } },
  // yanked
  { name: "yanked release refused", facts: facts({ release: v110yanked }), expect: { kind: "refuse", code: "RELEASE_YANKED", field: "release" } },
  { name: "yanked checked before from", facts: facts({ release: v110yanked, from: { channel: "beta", current: v120 } }), expect: { kind: "refuse", code: "RELEASE_YANKED", field: "release" } },
  { name: "yanked even when it is the current release (no no-op)", facts: facts({ release: v110yanked, current: v110yanked }), expect: { kind: "refuse", code: "RELEASE_YANKED", field: "release" } },
  { name: "yanked even with allowDowngrade", facts: facts({ release: rel("0.1.0", true), allowDowngrade: true }), expect: { kind: "refuse", code: "RELEASE_YANKED", field: "release" } },
  // from
  { name: "from matches", facts: facts({ from: { channel: "beta", current: v110 } }), expect: { kind: "move", action: "promote" } },
  { name: "from at another release", facts: facts({ from: { channel: "beta", current: v120 } }), expect: { kind: "refuse", code: "PROMOTION_REFUSED", field: "from" } },
  { name: "from channel empty", facts: facts({ from: { channel: "beta", current: null } }), expect: { kind: "refuse", code: "PROMOTION_REFUSED", field: "from" } },
  { name: "from checked before no-op", facts: facts({ release: v100, current: v100, from: { channel: "beta", current: v120 } }), expect: { kind: "refuse", code: "PROMOTION_REFUSED", field: "from" } },
  { name: "from checked before downgrade", facts: facts({ release: v100, current: v110, from: { channel: "beta", current: v120 } }), expect: { kind: "refuse", code: "PROMOTION_REFUSED", field: "from" } },
  { name: "from matching by version but another id is refused", facts: facts({ from: { channel: "beta", current: { id: "other", version: "1.1.0", yanked: false } } }), expect: { kind: "refuse", code: "PROMOTION_REFUSED", field: "from" } },
  // no-op
  { name: "promoting the current release is a no-op", facts: facts({ release: v100, current: v100 }), expect: { kind: "noop" } },
  { name: "no-op with matching expectedCurrent", facts: facts({ release: v100, current: v100, expectedCurrent: "1.0.0" }), expect: { kind: "noop" } },
  { name: "no-op with matching from", facts: facts({ release: v100, current: v100, from: { channel: "beta", current: v100 } }), expect: { kind: "noop" } },
  { name: "no-op is not a downgrade even with allowDowngrade false", facts: facts({ release: v110, current: v110 }), expect: { kind: "noop" } },
  // downgrade
  { name: "downgrade refused", facts: facts({ release: v100, current: v110 }), expect: { kind: "refuse", code: "DOWNGRADE_REFUSED", field: "release" } },
  { name: "downgrade allowed is a rollback", facts: facts({ release: v100, current: v110, allowDowngrade: true }), expect: { kind: "move", action: "rollback" } },
  { name: "upgrade with allowDowngrade is still a promote", facts: facts({ release: v120, current: v110, allowDowngrade: true }), expect: { kind: "move", action: "promote" } },
  // upgrade
  { name: "upgrade", facts: facts({ release: v120, current: v100 }), expect: { kind: "move", action: "promote" } },
  { name: "first release of an empty channel", facts: facts({ release: v100, current: null }), expect: { kind: "move", action: "promote" } },
  { name: "same precedence, other build metadata is not a downgrade", facts: facts({ release: rel("1.0.0+build.2"), current: rel("1.0.0+build.1") }), expect: { kind: "move", action: "promote" } },
  // prerelease ordering (SemVer 2, numeric identifiers compare numerically)
  { name: "GA above its rc", facts: facts({ release: ga, current: rc2 }), expect: { kind: "move", action: "promote" } },
  { name: "rc below its GA is a downgrade", facts: facts({ release: rc2, current: ga }), expect: { kind: "refuse", code: "DOWNGRADE_REFUSED", field: "release" } },
  { name: "rc.10 above rc.2", facts: facts({ release: rc10, current: rc2 }), expect: { kind: "move", action: "promote" } },
  { name: "rc.2 below rc.10", facts: facts({ release: rc2, current: rc10 }), expect: { kind: "refuse", code: "DOWNGRADE_REFUSED", field: "release" } },
  { name: "rc.1 above alpha", facts: facts({ release: rc1, current: alpha }), expect: { kind: "move", action: "promote" } },
  { name: "prerelease of the next major above the previous GA", facts: facts({ release: alpha, current: v120 }), expect: { kind: "move", action: "promote" } },
  { name: "prerelease below the current GA with allowDowngrade is a rollback", facts: facts({ release: rc1, current: ga, allowDowngrade: true }), expect: { kind: "move", action: "rollback" } },
  // channel policy: upstream (from implied and checked)
  { name: "upstream at the release: promote", facts: facts({ policy: policy({ upstream: up(v110) }) }), expect: { kind: "move", action: "promote" } },
  { name: "upstream at another release: refused", facts: facts({ policy: policy({ upstream: up(v120) }) }), expect: { kind: "refuse", code: "POLICY_REFUSED", field: "release" } },
  { name: "upstream empty: refused", facts: facts({ policy: policy({ upstream: up(null) }) }), expect: { kind: "refuse", code: "POLICY_REFUSED", field: "release" } },
  { name: "upstream binds an empty channel's first release", facts: facts({ current: null, policy: policy({ upstream: up(v120) }) }), expect: { kind: "refuse", code: "POLICY_REFUSED", field: "release" } },
  { name: "explicit from the upstream: promote", facts: facts({ from: { channel: "beta", current: v110 }, policy: policy({ upstream: up(v110) }) }), expect: { kind: "move", action: "promote" } },
  { name: "explicit from another channel than the upstream: refused on from", facts: facts({ from: { channel: "unstable", current: v110 }, policy: policy({ upstream: up(v110) }) }), expect: { kind: "refuse", code: "POLICY_REFUSED", field: "from" } },
  { name: "explicit from the upstream, at another release: the from rule", facts: facts({ from: { channel: "beta", current: v120 }, policy: policy({ upstream: up(v120) }) }), expect: { kind: "refuse", code: "PROMOTION_REFUSED", field: "from" } },
  { name: "yanked checked before the policy", facts: facts({ release: v110yanked, policy: policy({ upstream: up(v120) }) }), expect: { kind: "refuse", code: "RELEASE_YANKED", field: "release" } },
  { name: "expectedCurrent checked before the policy", facts: facts({ expectedCurrent: "0.9.0", policy: policy({ upstream: up(v120) }) }), expect: { kind: "refuse", code: "PROMOTION_CONFLICT", field: "expectedCurrent" } },
  { name: "the current release again is a no-op whatever the upstream holds", facts: facts({ release: v100, current: v100, policy: policy({ upstream: up(v120) }) }), expect: { kind: "noop" } },
  { name: "a downgrade is not bound by upstream", facts: facts({ release: v100, current: v110, allowDowngrade: true, policy: policy({ upstream: up(v120) }) }), expect: { kind: "move", action: "rollback" } },
  { name: "a downgrade without allowDowngrade is still DOWNGRADE_REFUSED", facts: facts({ release: v100, current: v110, policy: policy({ upstream: up(v120) }) }), expect: { kind: "refuse", code: "DOWNGRADE_REFUSED", field: "release" } },
  // channel policy: minSoak on the upstream
  { name: "soaked long enough: promote", facts: facts({ policy: policy({ upstream: up(v110, 2 * HOUR), minSoak: "2h" }) }), expect: { kind: "move", action: "promote" } },
  { name: "soaked exactly minSoak: promote", facts: facts({ policy: policy({ upstream: up(v110, HOUR), minSoak: "60m" }) }), expect: { kind: "move", action: "promote" } },
  { name: "one second short of minSoak: refused", facts: facts({ policy: policy({ upstream: up(v110, HOUR - 1000), minSoak: "1h" }) }), expect: { kind: "refuse", code: "POLICY_REFUSED", field: "release" } },
  { name: "minSoak in days", facts: facts({ policy: policy({ upstream: up(v110, 2 * 24 * HOUR), minSoak: "3d" }) }), expect: { kind: "refuse", code: "POLICY_REFUSED", field: "release" } },
  { name: "no recorded move to the upstream's release: soaked", facts: facts({ policy: policy({ upstream: { channel: "beta", current: v110, since: null }, minSoak: "1h" }) }), expect: { kind: "move", action: "promote" } },
  { name: "minSoak does not bind a downgrade", facts: facts({ release: v100, current: v110, allowDowngrade: true, policy: policy({ upstream: up(v100, 0), minSoak: "1h" }) }), expect: { kind: "move", action: "rollback" } },
  // channel policy: downgradeRole
  { name: "downgrade by a caller holding downgradeRole", facts: facts({ release: v100, current: v110, allowDowngrade: true, policy: policy({ downgradeRole: "admin", mayDowngrade: true }) }), expect: { kind: "move", action: "rollback" } },
  { name: "downgrade by a caller without downgradeRole: refused", facts: facts({ release: v100, current: v110, allowDowngrade: true, policy: policy({ downgradeRole: "admin", mayDowngrade: false }) }), expect: { kind: "refuse", code: "POLICY_REFUSED", field: "release" } },
  { name: "downgradeRole does not bind a move up", facts: facts({ release: v120, current: v110, policy: policy({ downgradeRole: "admin", mayDowngrade: false }) }), expect: { kind: "move", action: "promote" } },
  { name: "downgradeRole does not bind a no-op", facts: facts({ release: v110, current: v110, policy: policy({ downgradeRole: "admin", mayDowngrade: false }) }), expect: { kind: "noop" } },
];

for (const row of table) {
  t.test(row.name, async (t) => {
    const d = decidePromotion(row.facts);
    t.equal(d.kind, row.expect.kind, "kind");
    if (d.kind === "move" && row.expect.kind === "move") t.equal(d.action, row.expect.action, "action");
    if (d.kind === "refuse" && row.expect.kind === "refuse") {
      t.equal(d.code, row.expect.code, "code");
      t.equal(d.field, row.expect.field, "field");
      t.type(d.message, "string");
      t.ok(d.message.length > 0, "says why");
    }
    if (d.kind === "noop") t.match(d.message, /nothing changed/);
  });
}

t.test("messages name the versions involved", async (t) => {
  const conflict = decidePromotion(facts({ expectedCurrent: "0.9.0" }));
  t.match(conflict, { kind: "refuse", message: /1\.0\.0.*0\.9\.0/ });
  const down = decidePromotion(facts({ release: v100, current: v110 }));
  t.match(down, { kind: "refuse", message: /1\.0\.0.*1\.1\.0.*allowDowngrade/ });
});

t.test("policy refusals name the policy and the command that would work", async (t) => {
  const upstream = decidePromotion(facts({ policy: policy({ upstream: up(v120) }) }));
  t.match(upstream, { code: "POLICY_REFUSED", message: /policy upstream: beta.*at 1\.2\.0.*promote 1\.1\.0 --to beta first/ });
  const from = decidePromotion(facts({ from: { channel: "unstable", current: v110 }, policy: policy({ upstream: up(v110) }) }));
  t.match(from, { message: /only from beta.*not from unstable.*--from beta/ });
  const soak = decidePromotion(facts({ policy: policy({ upstream: up(v110, 20 * 60_000), minSoak: "90m" }) }));
  t.match(soak, { message: /for 20m \(since 2026-12-01T11:40:00\.000Z\).*policy minSoak: 90m.*wait 1h10m/ });
  const down = decidePromotion(facts({ release: v100, current: v110, allowDowngrade: true, policy: policy({ downgradeRole: "admin", mayDowngrade: false }) }));
  t.match(down, { message: /needs the admin role \(policy downgradeRole: admin\)/ });
});

// --- rollbackTarget ---------------------------------------------------------

const p = (from: string | null, to: string): HistoryStep => ({ action: "promote", fromReleaseId: from, toReleaseId: to });
const rb = (from: string | null, to: string): HistoryStep => ({ action: "rollback", fromReleaseId: from, toReleaseId: to });
const decl = (from: string | null, to: string): HistoryStep => ({ action: "declare", fromReleaseId: from, toReleaseId: to });
const none = () => false;

const rollbackTable: { name: string; history: HistoryStep[]; yanked?: string[]; expect: string | null }[] = [
  { name: "empty history", history: [], expect: null },
  { name: "one release: nothing below", history: [p(null, "A")], expect: null },
  { name: "declared then promoted", history: [decl(null, "A"), p("A", "B")], expect: "A" },
  { name: "promote chain: the one before the current", history: [p(null, "A"), p("A", "B"), p("B", "C")], expect: "B" },
  { name: "rollback after rollback goes further down, never back up", history: [p(null, "A"), p("A", "B"), p("B", "C"), rb("C", "B")], expect: "A" },
  { name: "rolled back to the bottom: none left", history: [p(null, "A"), p("A", "B"), rb("B", "A")], expect: null },
  { name: "promote after a rollback: back to where the rollback went", history: [p(null, "A"), p("A", "B"), p("B", "C"), rb("C", "B"), p("B", "D")], expect: "B" },
  { name: "skips a yanked release", history: [p(null, "A"), p("A", "B"), p("B", "C")], yanked: ["B"], expect: "A" },
  { name: "all below yanked: none", history: [p(null, "A"), p("A", "B"), p("B", "C")], yanked: ["A", "B"], expect: null },
  { name: "re-promoting the same release twice does not stack it", history: [p(null, "A"), p("A", "B"), p("B", "B")], expect: "A" },
  { name: "rollback to a release not on the stack is pushed", history: [p(null, "A"), p("A", "B"), rb("B", "X")], expect: "B" },
  { name: "a release promoted again later is not its own target", history: [p(null, "A"), p("A", "B"), p("B", "A"), p("A", "C")], expect: "A" },
  { name: "step without a target is ignored", history: [p(null, "A"), { action: "promote", fromReleaseId: "A", toReleaseId: null }, p("A", "B")], expect: "A" },
];

for (const row of rollbackTable) {
  t.test(`rollbackTarget: ${row.name}`, async (t) => {
    const yanked = new Set(row.yanked ?? []);
    t.equal(rollbackTarget(row.history, row.yanked ? (id) => yanked.has(id) : none), row.expect);
  });
}

t.test("rollbackTarget replays a second rollback from the first one's target", async (t) => {
  // A → B → C → D; roll back twice: D→C, then C→B; a third gives A.
  const h: HistoryStep[] = [p(null, "A"), p("A", "B"), p("B", "C"), p("C", "D")];
  const first = rollbackTarget(h, none);
  t.equal(first, "C");
  h.push(rb("D", first!));
  const second = rollbackTarget(h, none);
  t.equal(second, "B");
  h.push(rb("C", second!));
  t.equal(rollbackTarget(h, none), "A");
  h.push(rb("B", "A"));
  t.equal(rollbackTarget(h, none), null);
});

// --- refuseRollbackTo: a rollback's `to` (issue #13) ---------------------------

function rbFacts(over: Partial<RollbackFacts>): RollbackFacts {
  return { channel: "stable", current: v120, to: v100, held: true, ...over };
}

const rollbackToTable: { name: string; facts: RollbackFacts; refused: RegExp | null }[] = [
  { name: "a lower release the channel held", facts: rbFacts({}), refused: null },
  { name: "a lower prerelease the channel held", facts: rbFacts({ current: ga, to: rc2 }), refused: null },
  { name: "the current release: left to the promotion rule (a no-op)", facts: rbFacts({ to: v120 }), refused: null },
  { name: "the current release, even if never recorded as held", facts: rbFacts({ to: v120, held: false }), refused: null },
  { name: "a yanked target: left to the promotion rule (RELEASE_YANKED)", facts: rbFacts({ to: v110yanked, held: false }), refused: null },
  { name: "never held, lower", facts: rbFacts({ held: false }), refused: /1\.0\.0 has never been the release of channel stable/ },
  { name: "never held, higher", facts: rbFacts({ to: ga, held: false }), refused: /never been/ },
  { name: "held, higher: a promotion", facts: rbFacts({ current: v100, to: v120 }), refused: /1\.2\.0 is not lower than 1\.0\.0.*promote it instead/ },
  { name: "held, same precedence (other build metadata): not lower", facts: rbFacts({ current: rel("1.0.0+b.1"), to: rel("1.0.0+b.2") }), refused: /not lower/ },
  { name: "held, the GA of the current rc: higher", facts: rbFacts({ current: rc2, to: ga }), refused: /not lower/ },
  { name: "held, rc.10 from rc.2: higher", facts: rbFacts({ current: rc2, to: rc10 }), refused: /not lower/ },
  { name: "held, rc.2 from rc.10: lower", facts: rbFacts({ current: rc10, to: rc2 }), refused: null },
  { name: "a channel with no release: never held", facts: rbFacts({ current: null, held: false }), refused: /never been/ },
];

for (const row of rollbackToTable) {
  t.test(`refuseRollbackTo: ${row.name}`, async (t) => {
    const r = refuseRollbackTo(row.facts);
    if (row.refused === null) t.equal(r, undefined, "allowed");
    else {
      t.match(r, { kind: "refuse", code: "ROLLBACK_REFUSED", field: "to" });
      t.match(r?.message, row.refused, "says which rule");
    }
  });
}
