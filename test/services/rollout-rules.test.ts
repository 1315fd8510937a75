// Table tests of the rollout rules (docs/api.md §7,
// src/services/rollout-rules.ts): decideControl for every control in every
// state (and with no rollout), with a freeze, with force with and without
// the admin role, with failing gates, on the last step; decideProgress at
// the bake boundary, frozen, gated, paused; nextStepAt and bakeEndsAt.
import t from "tap";
import { bakeEndsAt, decideControl, decideProgress, nextStepAt, ROLLOUT_CONTROLS, type ControlFacts, type RolloutControl, type RolloutFactsForRules, type Transition } from "../../src/services/rollout-rules.js";
import type { RolloutState } from "../../src/services/resolve-release.js";

const STARTED = new Date("2026-03-01T10:00:00.000Z");
const STEPS = [
  { percent: 5, bake: "2h" },
  { percent: 50, bake: "30s" },
  { percent: 100, bake: "0s" },
] as const;

function rollout(state: RolloutState, step = 0, stepStartedAt = STARTED): RolloutFactsForRules {
  return { state, step, steps: STEPS, stepStartedAt };
}

function facts(control: RolloutControl, r: RolloutFactsForRules | null, over: Partial<ControlFacts> = {}): ControlFacts {
  return { channel: "stable", rollout: r, control, force: false, isAdmin: false, frozen: false, gatesPass: true, ...over };
}

type Expect = { apply: Transition } | { noop: true } | { refuse: "NO_ACTIVE_ROLLOUT" | "FROZEN" | "ROLE_REQUIRED" | "GATES_FAILING" };

const STATES: (RolloutState | "none")[] = ["none", "progressing", "paused", "halted", "completed", "aborted"];

/**
 * What each control does in each state, on the first of three steps, with
 * no freeze, no force, gates passing: written out by hand, not derived from
 * the rules under test.
 */
const MATRIX: Record<RolloutState | "none", Record<RolloutControl, Expect>> = {
  none: { pause: { refuse: "NO_ACTIVE_ROLLOUT" }, resume: { refuse: "NO_ACTIVE_ROLLOUT" }, advance: { refuse: "NO_ACTIVE_ROLLOUT" }, abort: { refuse: "NO_ACTIVE_ROLLOUT" } },
  progressing: { pause: { apply: { kind: "pause" } }, resume: { noop: true }, advance: { apply: { kind: "step", step: 1, state: "progressing" } }, abort: { apply: { kind: "abort" } } },
  paused: { pause: { noop: true }, resume: { apply: { kind: "resume" } }, advance: { apply: { kind: "step", step: 1, state: "paused" } }, abort: { apply: { kind: "abort" } } },
  halted: { pause: { apply: { kind: "pause" } }, resume: { apply: { kind: "resume" } }, advance: { refuse: "GATES_FAILING" }, abort: { apply: { kind: "abort" } } },
  completed: { pause: { refuse: "NO_ACTIVE_ROLLOUT" }, resume: { refuse: "NO_ACTIVE_ROLLOUT" }, advance: { refuse: "NO_ACTIVE_ROLLOUT" }, abort: { refuse: "NO_ACTIVE_ROLLOUT" } },
  aborted: { pause: { refuse: "NO_ACTIVE_ROLLOUT" }, resume: { refuse: "NO_ACTIVE_ROLLOUT" }, advance: { refuse: "NO_ACTIVE_ROLLOUT" }, abort: { refuse: "NO_ACTIVE_ROLLOUT" } },
};

const ACTIVE = new Set<string>(["progressing", "paused", "halted"]);

interface Row {
  name: string;
  facts: ControlFacts;
  expect: Expect;
}

const rows: Row[] = [];
for (const state of STATES) {
  const r = state === "none" ? null : rollout(state);
  for (const control of ROLLOUT_CONTROLS) {
    rows.push({ name: `${control} when ${state}`, facts: facts(control, r), expect: MATRIX[state][control] });
    // A freeze refuses resume and advance of an active rollout (even a no-op resume); pause and abort still work.
    const frozen: Expect = !ACTIVE.has(state) ? { refuse: "NO_ACTIVE_ROLLOUT" } : control === "resume" || control === "advance" ? { refuse: "FROZEN" } : MATRIX[state][control];
    rows.push({ name: `${control} when ${state}, frozen`, facts: facts(control, r, { frozen: true }), expect: frozen });
  }
}

rows.push(
  // force
  { name: "advance with force, not admin: refused", facts: facts("advance", rollout("progressing"), { force: true }), expect: { refuse: "ROLE_REQUIRED" } },
  { name: "advance with force, admin", facts: facts("advance", rollout("progressing"), { force: true, isAdmin: true }), expect: { apply: { kind: "step", step: 1, state: "progressing" } } },
  { name: "advance halted with force, not admin: the role first", facts: facts("advance", rollout("halted"), { force: true }), expect: { refuse: "ROLE_REQUIRED" } },
  { name: "advance halted with force, admin: progressing again", facts: facts("advance", rollout("halted"), { force: true, isAdmin: true }), expect: { apply: { kind: "step", step: 1, state: "progressing" } } },
  { name: "advance paused with force, admin: still paused", facts: facts("advance", rollout("paused"), { force: true, isAdmin: true }), expect: { apply: { kind: "step", step: 1, state: "paused" } } },
  { name: "advance as admin without force: gates still count", facts: facts("advance", rollout("progressing"), { isAdmin: true, gatesPass: false }), expect: { refuse: "GATES_FAILING" } },
  { name: "frozen before role: force by a non-admin while frozen", facts: facts("advance", rollout("progressing"), { force: true, frozen: true }), expect: { refuse: "FROZEN" } },
  { name: "frozen even for an admin with force", facts: facts("advance", rollout("progressing"), { force: true, isAdmin: true, frozen: true }), expect: { refuse: "FROZEN" } },
  { name: "no rollout before role: force by a non-admin", facts: facts("advance", null, { force: true }), expect: { refuse: "NO_ACTIVE_ROLLOUT" } },
  { name: "force on a completed rollout", facts: facts("advance", rollout("completed"), { force: true, isAdmin: true }), expect: { refuse: "NO_ACTIVE_ROLLOUT" } },
  // gates failing
  { name: "advance progressing, gates failing", facts: facts("advance", rollout("progressing"), { gatesPass: false }), expect: { refuse: "GATES_FAILING" } },
  { name: "advance paused, gates failing", facts: facts("advance", rollout("paused"), { gatesPass: false }), expect: { refuse: "GATES_FAILING" } },
  { name: "advance progressing, gates failing, force as admin", facts: facts("advance", rollout("progressing"), { gatesPass: false, force: true, isAdmin: true }), expect: { apply: { kind: "step", step: 1, state: "progressing" } } },
  { name: "pause with gates failing", facts: facts("pause", rollout("progressing"), { gatesPass: false }), expect: { apply: { kind: "pause" } } },
  { name: "abort with gates failing", facts: facts("abort", rollout("progressing"), { gatesPass: false }), expect: { apply: { kind: "abort" } } },
  // later steps and the last one
  { name: "advance from the middle step", facts: facts("advance", rollout("progressing", 1)), expect: { apply: { kind: "step", step: 2, state: "progressing" } } },
  { name: "advance on the last step completes", facts: facts("advance", rollout("progressing", 2)), expect: { apply: { kind: "complete" } } },
  { name: "advance on the last step while paused completes", facts: facts("advance", rollout("paused", 2)), expect: { apply: { kind: "complete" } } },
  { name: "advance on the last step while halted, force as admin, completes", facts: facts("advance", rollout("halted", 2), { force: true, isAdmin: true }), expect: { apply: { kind: "complete" } } },
  { name: "advance on the last step while halted without force", facts: facts("advance", rollout("halted", 2)), expect: { refuse: "GATES_FAILING" } },
  { name: "a one-step rollout: advance completes", facts: facts("advance", { state: "progressing", step: 0, steps: [{ percent: 100, bake: "1d" }], stepStartedAt: STARTED }), expect: { apply: { kind: "complete" } } },
  { name: "abort on the last step", facts: facts("abort", rollout("paused", 2)), expect: { apply: { kind: "abort" } } },
);

for (const row of rows) {
  t.test(`decideControl: ${row.name}`, async (t) => {
    const d = decideControl(row.facts);
    if ("apply" in row.expect) t.same(d, { kind: "apply", transition: row.expect.apply });
    else if ("noop" in row.expect) {
      t.equal(d.kind, "noop");
      if (d.kind === "noop") t.match(d.message, /stable.*nothing changed/, "says nothing changed, naming the channel");
    } else {
      t.match(d, { kind: "refuse", code: row.expect.refuse });
      if (d.kind === "refuse") t.ok(d.message.length > 0, "says why");
    }
  });
}

t.test("decideControl: every control in every state is in the table, frozen or not", async (t) => {
  t.equal(rows.filter((r) => !/force|gates|step|one-step/.test(r.name)).length, STATES.length * ROLLOUT_CONTROLS.length * 2);
});

t.test("decideControl: the refusals say what to do", async (t) => {
  t.match(decideControl(facts("advance", rollout("halted"))), { kind: "refuse", code: "GATES_FAILING", message: /step 1.*stable.*halted.*force: true/ });
  t.match(decideControl(facts("pause", null)), { kind: "refuse", message: /stable has no active rollout/ });
  t.match(decideControl(facts("resume", rollout("paused"), { frozen: true })), { kind: "refuse", code: "FROZEN", message: /resuming.*stable/ });
});

// --- decideProgress ---------------------------------------------------------

const TWO_HOURS = 2 * 3_600_000;
const at = (ms: number) => new Date(STARTED.getTime() + ms);

const progressRows: { name: string; r: RolloutFactsForRules; now: Date; frozen?: boolean; gatesPass?: boolean; expect: { apply: Transition } | { wait: Date | null; why: RegExp } }[] = [
  { name: "just begun: waits for the bake", r: rollout("progressing"), now: STARTED, expect: { wait: at(TWO_HOURS), why: /step 1 bakes until 2026-03-01T12:00:00.000Z/ } },
  { name: "1 ms before the bake ends: waits", r: rollout("progressing"), now: at(TWO_HOURS - 1), expect: { wait: at(TWO_HOURS), why: /bakes until/ } },
  { name: "exactly when the bake ends: the next step", r: rollout("progressing"), now: at(TWO_HOURS), expect: { apply: { kind: "step", step: 1, state: "progressing" } } },
  { name: "long after the bake: the next step (only one)", r: rollout("progressing"), now: at(10 * TWO_HOURS), expect: { apply: { kind: "step", step: 1, state: "progressing" } } },
  { name: "middle step, 30s bake, at 29.999 s", r: rollout("progressing", 1), now: at(29_999), expect: { wait: at(30_000), why: /step 2 bakes/ } },
  { name: "middle step, 30s bake, at 30 s", r: rollout("progressing", 1), now: at(30_000), expect: { apply: { kind: "step", step: 2, state: "progressing" } } },
  { name: "last step, 0s bake: completes at once", r: rollout("progressing", 2), now: STARTED, expect: { apply: { kind: "complete" } } },
  { name: "last step with a bake: waits, then completes", r: { state: "progressing", step: 0, steps: [{ percent: 100, bake: "1m" }], stepStartedAt: STARTED }, now: at(59_999), expect: { wait: at(60_000), why: /bakes until/ } },
  { name: "last step with a bake, at its end: completes", r: { state: "progressing", step: 0, steps: [{ percent: 100, bake: "1m" }], stepStartedAt: STARTED }, now: at(60_000), expect: { apply: { kind: "complete" } } },
  { name: "bake passed, frozen: waits without a time", r: rollout("progressing"), now: at(TWO_HOURS), frozen: true, expect: { wait: null, why: /frozen/ } },
  { name: "bake passed, gates failing: waits without a time", r: rollout("progressing"), now: at(TWO_HOURS), gatesPass: false, expect: { wait: null, why: /gates of step 1/ } },
  { name: "bake not passed, gates failing: waits for the bake first", r: rollout("progressing"), now: STARTED, gatesPass: false, expect: { wait: at(TWO_HOURS), why: /bakes until/ } },
  { name: "paused, bake passed: stays paused", r: rollout("paused"), now: at(TWO_HOURS), expect: { wait: null, why: /paused/ } },
  { name: "paused on the last step: does not complete", r: rollout("paused", 2), now: at(TWO_HOURS), expect: { wait: null, why: /paused/ } },
  { name: "halted, bake passed", r: rollout("halted"), now: at(TWO_HOURS), expect: { wait: null, why: /halted/ } },
  { name: "completed", r: rollout("completed", 2), now: at(TWO_HOURS), expect: { wait: null, why: /completed/ } },
  { name: "aborted", r: rollout("aborted"), now: at(TWO_HOURS), expect: { wait: null, why: /aborted/ } },
  { name: "a clock behind the step start: waits", r: rollout("progressing"), now: at(-5_000), expect: { wait: at(TWO_HOURS), why: /bakes until/ } },
];

for (const row of progressRows) {
  t.test(`decideProgress: ${row.name}`, async (t) => {
    const d = decideProgress({ rollout: row.r, now: row.now, frozen: row.frozen ?? false, gatesPass: row.gatesPass ?? true });
    if ("apply" in row.expect) t.same(d, { kind: "apply", transition: row.expect.apply });
    else {
      t.equal(d.kind, "wait");
      if (d.kind === "wait") {
        t.same(d.until, row.expect.wait, "until");
        t.match(d.why, row.expect.why);
      }
    }
  });
}

t.test("decideProgress: a paused rollout advanced stays paused, and then does not progress", async (t) => {
  const advanced = decideControl(facts("advance", rollout("paused")));
  t.same(advanced, { kind: "apply", transition: { kind: "step", step: 1, state: "paused" } });
  const after = rollout("paused", 1, at(1_000));
  t.match(decideProgress({ rollout: after, now: at(1_000_000), frozen: false, gatesPass: true }), { kind: "wait", until: null });
  // Resumed long after: the step's bake counted from when it began, so it ends at the next tick.
  t.same(decideProgress({ rollout: { ...after, state: "progressing" }, now: at(1_000_000), frozen: false, gatesPass: true }), { kind: "apply", transition: { kind: "step", step: 2, state: "progressing" } });
});

// --- nextStepAt, bakeEndsAt -------------------------------------------------

const nextRows: { name: string; r: RolloutFactsForRules; expect: Date | null }[] = [
  { name: "progressing: the step's start plus its bake", r: rollout("progressing"), expect: at(TWO_HOURS) },
  { name: "progressing on a 30s step begun later", r: rollout("progressing", 1, at(5_000)), expect: at(35_000) },
  { name: "progressing on a 0s step: its start", r: rollout("progressing", 2, at(7_000)), expect: at(7_000) },
  { name: "paused: null", r: rollout("paused"), expect: null },
  { name: "halted: null", r: rollout("halted"), expect: null },
  { name: "completed: null", r: rollout("completed", 2), expect: null },
  { name: "aborted: null", r: rollout("aborted"), expect: null },
];

for (const row of nextRows) {
  t.test(`nextStepAt: ${row.name}`, async (t) => {
    t.same(nextStepAt(row.r), row.expect);
  });
}

t.test("bakeEndsAt: whatever the state, every bake unit", async (t) => {
  for (const [bake, ms] of [["0s", 0], ["45s", 45_000], ["15m", 900_000], ["2h", 7_200_000], ["3d", 259_200_000], ["365d", 365 * 86_400_000]] as const) {
    for (const state of ["progressing", "paused", "halted"] as const) {
      t.same(bakeEndsAt({ state, step: 0, steps: [{ percent: 100, bake }], stepStartedAt: STARTED }), at(ms), `${bake} ${state}`);
    }
  }
  t.throws(() => bakeEndsAt({ state: "progressing", step: 0, steps: [{ percent: 100, bake: "2 hours" }], stepStartedAt: STARTED }), RangeError, "a stored bake that is not one is an error, not NaN");
});
