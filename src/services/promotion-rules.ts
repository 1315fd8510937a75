// The promotion rule of docs/api.md §3, as one pure function. Every input is a
// fact already read from the store; the answer is what to do. Table-tested
// in test/services/promotion-rules.test.ts.
import semver from "semver";

export interface ReleaseFact {
  id: string;
  version: string;
  yanked: boolean;
}

export interface PromotionFacts {
  channel: string;
  release: ReleaseFact;
  /** The channel's release now. */
  current: ReleaseFact | null;
  /** With `from`: that channel's release now (null: it has none). */
  from?: { channel: string; current: ReleaseFact | null } | undefined;
  /** With `expectedCurrent`: the id or version the caller believes is current (null: none). */
  expectedCurrent?: string | null | undefined;
  allowDowngrade: boolean;
}

export type PromotionDecision =
  | { kind: "move"; action: "promote" | "rollback" }
  | { kind: "noop"; message: string }
  | { kind: "refuse"; code: "PROMOTION_CONFLICT" | "RELEASE_YANKED" | "PROMOTION_REFUSED" | "DOWNGRADE_REFUSED" | "ROLLBACK_REFUSED"; message: string; field?: string };

export type Refusal = Extract<PromotionDecision, { kind: "refuse" }>;

function matches(ref: string | null, r: ReleaseFact | null): boolean {
  if (ref === null) return r === null;
  return r !== null && (r.id === ref || r.version === ref);
}

export function decidePromotion(f: PromotionFacts): PromotionDecision {
  // Optimistic concurrency first, like If-Match: even a no-op must not
  // pretend to succeed when the caller's view is stale.
  if (f.expectedCurrent !== undefined && !matches(f.expectedCurrent, f.current)) {
    return {
      kind: "refuse",
      code: "PROMOTION_CONFLICT",
      field: "expectedCurrent",
      message: `channel ${f.channel} is at ${f.current?.version ?? "no release"}, not ${f.expectedCurrent ?? "no release"}`,
    };
  }
  if (f.release.yanked) {
    return { kind: "refuse", code: "RELEASE_YANKED", field: "release", message: `release ${f.release.version} is yanked and cannot be promoted` };
  }
  if (f.from !== undefined && f.from.current?.id !== f.release.id) {
    return {
      kind: "refuse",
      code: "PROMOTION_REFUSED",
      field: "from",
      message: `release ${f.release.version} is not the current release of channel ${f.from.channel} (it is at ${f.from.current?.version ?? "no release"})`,
    };
  }
  if (f.current?.id === f.release.id) {
    return { kind: "noop", message: `channel ${f.channel} is already at ${f.release.version}; nothing changed` };
  }
  if (f.current && semver.lt(f.release.version, f.current.version)) {
    if (!f.allowDowngrade) {
      return {
        kind: "refuse",
        code: "DOWNGRADE_REFUSED",
        field: "release",
        message: `release ${f.release.version} is lower than ${f.current.version}, the current release of ${f.channel}; set allowDowngrade to roll back`,
      };
    }
    return { kind: "move", action: "rollback" };
  }
  return { kind: "move", action: "promote" };
}

export interface HistoryStep {
  action: string;
  fromReleaseId: string | null;
  toReleaseId: string | null;
}

/**
 * The release a rollback returns to: history is replayed as a stack
 * (a promotion pushes, a rollback pops back to its target), and the answer
 * is the nearest release below the current one that is not excluded
 * (yanked, or not lower than the current version: the rule of
 * refuseRollbackTo). Null when there is none.
 */
export function rollbackTarget(history: HistoryStep[], isExcluded: (releaseId: string) => boolean): string | null {
  const stack: string[] = [];
  for (const step of history) {
    // A rollout's step does not move the channel (src/repositories/events-repo.ts).
    if (!step.toReleaseId || step.action === "rollout-step") continue;
    if (step.action === "rollback") {
      const at = stack.lastIndexOf(step.toReleaseId);
      if (at >= 0) {
        stack.length = at + 1;
        continue;
      }
    }
    if (stack[stack.length - 1] !== step.toReleaseId) stack.push(step.toReleaseId);
  }
  for (let i = stack.length - 2; i >= 0; i--) {
    const id = stack[i]!;
    if (id !== stack[stack.length - 1] && !isExcluded(id)) return id;
  }
  return null;
}

export interface RollbackFacts {
  channel: string;
  /** The channel's release now. */
  current: ReleaseFact | null;
  /** The release `to` names. */
  to: ReleaseFact;
  /** Whether the channel has held `to` before (its history mentions it). */
  held: boolean;
}

/**
 * The rule for a rollback's `to`: only to a release the channel has held,
 * and lower than the one it holds now. Anything else is a promotion and
 * must be asked for as one (its own rules: `from`, `expectedCurrent`).
 * Rolling back to the current release is left to the promotion rule (a
 * no-op), and so is a yanked target (RELEASE_YANKED).
 */
export function refuseRollbackTo(f: RollbackFacts): Refusal | undefined {
  if (f.current?.id === f.to.id || f.to.yanked) return undefined;
  if (!f.held) {
    return {
      kind: "refuse",
      code: "ROLLBACK_REFUSED",
      field: "to",
      message: `release ${f.to.version} has never been the release of channel ${f.channel}; a rollback returns only to a release the channel held (promote it instead)`,
    };
  }
  if (f.current && !semver.lt(f.to.version, f.current.version)) {
    return {
      kind: "refuse",
      code: "ROLLBACK_REFUSED",
      field: "to",
      message: `release ${f.to.version} is not lower than ${f.current.version}, the current release of channel ${f.channel}; a rollback only goes down (promote it instead)`,
    };
  }
  return undefined;
}
