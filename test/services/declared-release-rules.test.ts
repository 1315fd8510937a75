// Table tests of what apply does with a channel file's `release` and
// `rollout` given the channel's rollouts (src/services/declared-release-rules.ts).
import t from "tap";
import { decideDeclaredRelease, percentsText, rolloutDifferences, type DeclaredReleaseFacts } from "../../src/services/declared-release-rules.js";
import type { Rollout } from "../../src/repositories/rollouts-repo.js";
import type { RolloutInput } from "../../src/domain/schemas.js";
import type { RolloutState } from "../../src/services/resolve-release.js";

const target = { id: "id-0.59.2", version: "0.59.2" };

function rollout(over: Partial<Rollout> & { state: RolloutState }): Rollout {
  return {
    id: "r-1",
    channelId: "c-stable",
    releaseId: target.id,
    previousReleaseId: "id-0.58.1",
    step: 0,
    steps: [
      { percent: 5, bake: "2h" },
      { percent: 100, bake: "0s" },
    ],
    include: ["canary-a", "canary-b"],
    exclude: [],
    salt: "r-1",
    reason: "declared in stable.yaml",
    startedBy: "cli:ops",
    startedAt: new Date("2026-12-01T10:00:00Z"),
    stepStartedAt: new Date("2026-12-01T10:00:00Z"),
    endedAt: null,
    endedBy: null,
    endReason: null,
    gates: [],
    onFailure: "halt",
    gateResults: null,
    ...over,
  };
}

/** The file's rollout as the schema leaves it (defaults filled in). */
function declared(over: Partial<RolloutInput> = {}): RolloutInput {
  return { steps: [{ percent: 5, bake: "2h" }, { percent: 100, bake: "0s" }], include: ["canary-b", "canary-a", "canary-a"], exclude: [], gates: [], onFailure: "halt", ...over };
}

function facts(over: Partial<DeclaredReleaseFacts>): DeclaredReleaseFacts {
  return { channel: "stable", file: "stable.yaml", current: "id-0.58.1", target, declared: declared(), active: null, lastOfTarget: null, ...over };
}

const aborted = rollout({ state: "aborted", endedAt: new Date("2026-12-01T11:30:00Z"), endedBy: "release-engineer@example.com", endReason: "bad image" });

type Expect = { kind: "nothing"; note?: RegExp } | { kind: "promote" } | { kind: "refuse"; message: RegExp };

const table: { name: string; facts: DeclaredReleaseFacts; expect: Expect }[] = [
  { name: "no rollout ever, a rollout declared: start it", facts: facts({}), expect: { kind: "promote" } },
  { name: "no rollout ever, none declared: move at once", facts: facts({ declared: undefined }), expect: { kind: "promote" } },
  { name: "active rollout of the declared release, same declaration (include order and repeats ignored)", facts: facts({ active: rollout({ state: "progressing" }) }), expect: { kind: "nothing" } },
  { name: "active and paused: still nothing", facts: facts({ active: rollout({ state: "paused", step: 1 }) }), expect: { kind: "nothing" } },
  { name: "active and halted: still nothing", facts: facts({ active: rollout({ state: "halted" }) }), expect: { kind: "nothing" } },
  {
    name: "active, other steps declared: a note, nothing changed",
    facts: facts({ active: rollout({ state: "progressing" }), declared: declared({ steps: [{ percent: 10, bake: "1h" }, { percent: 100, bake: "0s" }] }) }),
    expect: { kind: "nothing", note: /rollout r-1 of 0\.59\.2 on channel stable is progressing at step 1 of 2 \(5 %\); stable\.yaml declares another steps \(running 5 % for 2h, 100 %; declared 10 % for 1h, 100 %\); apply does not change a running rollout/ },
  },
  {
    name: "active, gates stored with their keys in another order (PostgreSQL JSONB): the same",
    facts: facts({ active: rollout({ state: "progressing", gates: [{ maxFailedRatio: 0.1, kind: "reports", minHealthy: 2 } as never] }), declared: declared({ gates: [{ kind: "reports", minHealthy: 2, maxFailedRatio: 0.1 }] }) }),
    expect: { kind: "nothing" },
  },
  { name: "active, other gates declared: a note", facts: facts({ active: rollout({ state: "progressing" }), declared: declared({ gates: [{ kind: "reports", minHealthy: 2, maxFailedRatio: 0.1 }] }) }), expect: { kind: "nothing", note: /another gates/ } },
  { name: "active, a step's gates declared: a note", facts: facts({ active: rollout({ state: "progressing" }), declared: declared({ steps: [{ percent: 5, bake: "2h", gates: [{ kind: "webhook", url: "https://g.example.com" }] }, { percent: 100, bake: "0s" }] }) }), expect: { kind: "nothing", note: /another gates/ } },
  { name: "active, other onFailure declared: a note", facts: facts({ active: rollout({ state: "progressing" }), declared: declared({ onFailure: "rollback" }) }), expect: { kind: "nothing", note: /onFailure \(running halt; declared rollback\)/ } },
  { name: "active, other bake only", facts: facts({ active: rollout({ state: "progressing" }), declared: declared({ steps: [{ percent: 5, bake: "3h" }, { percent: 100, bake: "0s" }] }) }), expect: { kind: "nothing", note: /another steps/ } },
  { name: "active, other include", facts: facts({ active: rollout({ state: "progressing" }), declared: declared({ include: ["canary-a"] }) }), expect: { kind: "nothing", note: /another include \(running \[canary-a, canary-b\]; declared \[canary-a\]\)/ } },
  { name: "active, other exclude", facts: facts({ active: rollout({ state: "progressing" }), declared: declared({ exclude: ["bigbank"] }) }), expect: { kind: "nothing", note: /another exclude/ } },
  { name: "active, a declared salt that differs", facts: facts({ active: rollout({ state: "progressing" }), declared: declared({ salt: "other" }) }), expect: { kind: "nothing", note: /another salt \(running r-1; declared other\)/ } },
  { name: "active, no salt declared: the stored default is not a difference", facts: facts({ active: rollout({ state: "progressing", salt: "r-1" }), declared: declared({}) }), expect: { kind: "nothing" } },
  { name: "active, the file declares no rollout: a note", facts: facts({ active: rollout({ state: "progressing" }), declared: undefined }), expect: { kind: "nothing", note: /stable\.yaml declares no rollout; apply leaves the rollout as it is/ } },
  { name: "active rollout of another release: the promotion (refused 409 there)", facts: facts({ active: rollout({ state: "progressing", releaseId: "id-0.60.0" }) }), expect: { kind: "promote" } },
  { name: "active rollout of another release, channel at the declared one: the promotion too", facts: facts({ current: target.id, active: rollout({ state: "paused", releaseId: "id-0.60.0" }) }), expect: { kind: "promote" } },
  { name: "at the declared release after a completed rollout: the rules' no-op", facts: facts({ current: target.id, lastOfTarget: rollout({ state: "completed" }) }), expect: { kind: "promote" } },
  { name: "at the declared release after an aborted one (promoted by hand since): the rules' no-op", facts: facts({ current: target.id, lastOfTarget: aborted }), expect: { kind: "promote" } },
  {
    name: "last rollout of the declared release aborted: refused, naming it",
    facts: facts({ lastOfTarget: aborted }),
    expect: { kind: "refuse", message: /^stable\.yaml: release: the last rollout of 0\.59\.2 on channel stable \(r-1\) was aborted at 2026-12-01T11:30:00\.000Z by release-engineer@example\.com \(reason: bad image\); apply does not start it again\. Declare another release in stable\.yaml, or promote 0\.59\.2 by hand/ },
  },
  { name: "aborted, and the file declares no rollout: refused too", facts: facts({ declared: undefined, lastOfTarget: aborted }), expect: { kind: "refuse", message: /was aborted/ } },
  { name: "the last rollout of the declared release completed, the channel moved on: the rules decide", facts: facts({ current: "id-0.60.0", lastOfTarget: rollout({ state: "completed" }) }), expect: { kind: "promote" } },
];

for (const { name, facts: f, expect } of table) {
  const d = decideDeclaredRelease(f);
  t.equal(d.kind, expect.kind, `${name}: ${d.kind}`);
  if (expect.kind === "nothing" && d.kind === "nothing") {
    if (expect.note) t.match(d.note, expect.note, `${name}: note`);
    else t.equal(d.note, undefined, `${name}: no note`);
  }
  if (expect.kind === "refuse" && d.kind === "refuse") {
    t.equal(d.code, "DECLARATION_CONFLICT", `${name}: code`);
    t.match(d.message, expect.message, `${name}: message`);
  }
}

t.test("rolloutDifferences names each field that differs, and nothing else", async (t) => {
  const stored = rollout({ state: "progressing" });
  t.same(rolloutDifferences(stored, declared()), []);
  t.same(
    rolloutDifferences(stored, declared({ steps: [{ percent: 100, bake: "0s" }], include: [], exclude: ["x"], salt: "s" })).map((d) => d.split(" ")[0]),
    ["steps", "include", "exclude", "salt"],
  );
  t.equal(percentsText([{ percent: 5 }, { percent: 25 }, { percent: 100 }]), "5 %, 25 %, 100 %");
});
