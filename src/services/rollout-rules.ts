// What may happen to a rollout (docs/api.md §7), as two pure functions over
// facts already read from the store: decideControl (a person's pause,
// resume, advance or abort) and decideProgress (the scheduler's question:
// has the current step ended?). src/services/rollout-service.ts reads the
// facts, asks here, and writes the answer in one transaction guarded by the
// channel's row version. Table-tested in test/services/rollout-rules.test.ts.
//
// The rules the contract leaves open (docs/decisions.md):
// - a step's bake counts from the moment the step began, paused or not: a
//   pause holds the rollout where it is, and a resume lets a step whose
//   bake has passed end at the next tick;
// - advance from a paused rollout begins the next step and stays paused
//   (the person moved it on, the hold stands); from halted it needs force;
// - pausing a paused rollout, or resuming a progressing one, changes
//   nothing and says so (200), like promoting the current release again.
import { bakeMs } from "../domain/bake.js";
import type { StoredRolloutStep } from "../domain/schemas.js";
import type { RolloutState } from "./resolve-release.js";

export const ROLLOUT_CONTROLS = ["pause", "resume", "advance", "abort"] as const;
export type RolloutControl = (typeof ROLLOUT_CONTROLS)[number];

/** A rollout as the rules see it. */
export interface RolloutFactsForRules {
  state: RolloutState;
  /** 0-based index of the current step. */
  step: number;
  steps: readonly StoredRolloutStep[];
  stepStartedAt: Date;
}

/** What to write. */
export type Transition =
  /** Begin step `step` (0-based): history `rollout-step`. */
  | { kind: "step"; step: number; state: "progressing" | "paused" }
  /** The last step ended: the channel's release becomes the target (history `promote`). */
  | { kind: "complete" }
  | { kind: "pause" }
  | { kind: "resume" }
  /** A gate failed with onFailure halt (docs/api.md §9): held until a person resumes or aborts; no history. */
  | { kind: "halt" }
  /** Every licensee back on the channel's release (history `rollback`). */
  | { kind: "abort" };

export type ControlRefusal = { kind: "refuse"; code: "NO_ACTIVE_ROLLOUT" | "FROZEN" | "ROLE_REQUIRED" | "GATES_FAILING"; message: string };

export type ControlDecision = { kind: "apply"; transition: Transition } | { kind: "noop"; message: string } | ControlRefusal;

export interface ControlFacts {
  channel: string;
  /** The channel's active rollout (progressing, paused, halted), or null. */
  rollout: RolloutFactsForRules | null;
  control: RolloutControl;
  /** advance: end the step even if its gates fail (admin role). */
  force: boolean;
  isAdmin: boolean;
  /** A freeze is in force (src/services/freeze-service.ts). */
  frozen: boolean;
  /** Every gate of the current step passes (no gates: true). */
  gatesPass: boolean;
}

const ACTIVE: ReadonlySet<RolloutState> = new Set(["progressing", "paused", "halted"]);

/** The step after the current one, or completion after the last. */
function endOfStep(r: RolloutFactsForRules, state: "progressing" | "paused"): Transition {
  return r.step + 1 < r.steps.length ? { kind: "step", step: r.step + 1, state } : { kind: "complete" };
}

export function decideControl(f: ControlFacts): ControlDecision {
  const r = f.rollout;
  if (!r || !ACTIVE.has(r.state)) return { kind: "refuse", code: "NO_ACTIVE_ROLLOUT", message: `channel ${f.channel} has no active rollout` };
  switch (f.control) {
    case "abort":
      return { kind: "apply", transition: { kind: "abort" } };
    case "pause":
      return r.state === "paused" ? { kind: "noop", message: `the rollout of channel ${f.channel} is already paused; nothing changed` } : { kind: "apply", transition: { kind: "pause" } };
    case "resume":
      if (f.frozen) return { kind: "refuse", code: "FROZEN", message: `resuming the rollout of channel ${f.channel}` };
      return r.state === "progressing" ? { kind: "noop", message: `the rollout of channel ${f.channel} is already progressing; nothing changed` } : { kind: "apply", transition: { kind: "resume" } };
    case "advance": {
      if (f.frozen) return { kind: "refuse", code: "FROZEN", message: `advancing the rollout of channel ${f.channel}` };
      if (f.force && !f.isAdmin) return { kind: "refuse", code: "ROLE_REQUIRED", message: "admin" };
      const halted = r.state === "halted";
      if (!f.force && (halted || !f.gatesPass)) {
        return { kind: "refuse", code: "GATES_FAILING", message: `the gates of step ${r.step + 1} of the rollout of channel ${f.channel} do not pass${halted ? " (the rollout is halted)" : ""}; an admin can advance with force: true` };
      }
      return { kind: "apply", transition: endOfStep(r, r.state === "paused" ? "paused" : "progressing") };
    }
  }
}

/** When the current step's bake ends (whatever the state). */
export function bakeEndsAt(r: RolloutFactsForRules): Date {
  return new Date(r.stepStartedAt.getTime() + bakeMs(r.steps[r.step]!.bake));
}

/** When the rollout will begin its next step on its own: null unless progressing. */
export function nextStepAt(r: RolloutFactsForRules): Date | null {
  return r.state === "progressing" ? bakeEndsAt(r) : null;
}

export type ProgressDecision = { kind: "apply"; transition: Transition } | { kind: "wait"; until: Date | null; why: string };

export interface ProgressFacts {
  rollout: RolloutFactsForRules;
  now: Date;
  frozen: boolean;
  gatesPass: boolean;
}

/** The scheduler's question: does the current step end now? */
export function decideProgress(f: ProgressFacts): ProgressDecision {
  const r = f.rollout;
  if (r.state !== "progressing") return { kind: "wait", until: null, why: `the rollout is ${r.state}` };
  if (f.frozen) return { kind: "wait", until: null, why: "promotions are frozen: active rollouts make no progress" };
  const ends = bakeEndsAt(r);
  if (f.now.getTime() < ends.getTime()) return { kind: "wait", until: ends, why: `step ${r.step + 1} bakes until ${ends.toISOString()}` };
  if (!f.gatesPass) return { kind: "wait", until: null, why: `the gates of step ${r.step + 1} do not pass yet` };
  return { kind: "apply", transition: endOfStep(r, "progressing") };
}
