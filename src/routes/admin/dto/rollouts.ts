// Rollouts as the admin API answers them (docs/api.md §7).
import { z } from "zod";
import type { Rollout } from "../../../repositories/rollouts-repo.js";
import type { RolloutView } from "../../../services/rollout-service.js";
import { nextStepAt } from "../../../services/rollout-rules.js";
import { page } from "./paging.js";
import { releaseRefDto, toReleaseRef } from "./releases.js";

const state = z.enum(["progressing", "paused", "halted", "completed", "aborted"]);

export const rolloutCountsDto = z.object({
  licensees: z.number().int().describe("fleet licensees known on the channel"),
  inCohort: z.number().int().describe("of those, in the cohort of the current step"),
  servedTarget: z.number().int().describe("of those, last served the rollout's release"),
  healthy: z.number().int().describe("licensees of the channel whose latest health report on the rollout's release is healthy (docs/api.md §9)"),
  failed: z.number().int().describe("licensees of the channel whose latest health report on the rollout's release is failed (docs/api.md §9)"),
});

/** A gate as written (docs/api.md §9). */
const gateSpecDto = z.record(z.string(), z.unknown()).describe('the gate as written: {kind: "reports", minHealthy, maxFailedRatio, minSamples?} | {kind: "webhook", url, timeout?} | {kind: "prometheus", url, query, pass}');

/** One gate of the current step and its last evaluation. */
export const rolloutGateDto = z.object({
  kind: z.enum(["reports", "webhook", "prometheus"]),
  state: z.enum(["pending", "pass", "fail", "inconclusive"]),
  detail: z.string().describe("what the last evaluation saw"),
  evaluatedAt: z.string().nullable().describe("when it was last evaluated (null: not yet)"),
  inconclusive: z.number().int().describe("inconclusive answers in a row (3 fail the gate)"),
  scope: z.enum(["rollout", "step"]).describe("written on the rollout (every step) or on this step"),
  spec: gateSpecDto,
});

export const rolloutDto = z.object({
  id: z.string(),
  channel: z.string(),
  release: releaseRefDto.describe("the target"),
  previous: releaseRefDto.describe("the channel's release when the rollout started"),
  state,
  step: z.number().int().describe("1-based index of the current step (when ended: the step it ended on)"),
  percent: z.number().int().describe("the current step's percent"),
  steps: z.array(z.object({ percent: z.number().int(), bake: z.string(), gates: z.array(gateSpecDto).optional().describe("this step's own gates, if any") })),
  include: z.array(z.string()),
  exclude: z.array(z.string()),
  salt: z.string(),
  reason: z.string().nullable(),
  startedBy: z.string(),
  startedAt: z.string(),
  stepStartedAt: z.string(),
  nextStepAt: z.string().nullable().describe("when the current step's bake ends and the next begins (null unless progressing)"),
  endedAt: z.string().nullable(),
  endedBy: z.string().nullable(),
  endReason: z.string().nullable(),
  counts: rolloutCountsDto.optional(),
  onFailure: z.enum(["halt", "rollback"]).describe("what a failed gate does"),
  gates: z.array(rolloutGateDto).describe("the current step's gates (the rollout's, then the step's) with their last evaluation (docs/api.md §9)"),
});
export type RolloutDto = z.infer<typeof rolloutDto>;

export const rolloutPageDto = page(rolloutDto);

/** A control's answer: the rollout after it, and whether it changed anything. */
export const rolloutControlDto = z.object({ changed: z.boolean(), message: z.string(), rollout: rolloutDto });

/** The channel view's summary of its active rollout. */
export const rolloutSummaryDto = z
  .object({ id: z.string(), release: z.object({ id: z.string(), version: z.string() }), state, step: z.number().int(), steps: z.number().int(), percent: z.number().int(), nextStepAt: z.string().nullable() })
  .nullable();
export type RolloutSummaryDto = z.infer<typeof rolloutSummaryDto>;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toRolloutDto(v: RolloutView): RolloutDto {
  return {
    id: v.id,
    channel: v.channel,
    release: toReleaseRef(v.release),
    previous: toReleaseRef(v.previous),
    state: v.state,
    step: v.step + 1,
    percent: v.percent,
    steps: v.steps.map((s) => ({ percent: s.percent, bake: s.bake, ...(s.gates && s.gates.length > 0 ? { gates: s.gates } : {}) })),
    include: v.include,
    exclude: v.exclude,
    salt: v.salt,
    reason: v.reason,
    startedBy: v.startedBy,
    startedAt: v.startedAt.toISOString(),
    stepStartedAt: v.stepStartedAt.toISOString(),
    nextStepAt: iso(v.nextStepAt),
    endedAt: iso(v.endedAt),
    endedBy: v.endedBy,
    endReason: v.endReason,
    ...(v.counts ? { counts: v.counts } : {}),
    onFailure: v.onFailure,
    gates: v.gateView.map((g) => ({ kind: g.kind, state: g.state, detail: g.detail, evaluatedAt: g.evaluatedAt, inconclusive: g.inconclusive, scope: g.scope, spec: { ...g.spec } })),
  };
}

export function toRolloutSummary(r: Rollout | undefined, version: string | undefined): RolloutSummaryDto {
  if (!r || version === undefined) return null;
  return { id: r.id, release: { id: r.releaseId, version }, state: r.state, step: r.step + 1, steps: r.steps.length, percent: r.steps[r.step]!.percent, nextStepAt: iso(nextStepAt(r)) };
}
