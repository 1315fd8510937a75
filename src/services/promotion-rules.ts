// The promotion rule of docs/api.md §3, as one pure function. Every input is a
// fact already read from the store; the answer is what to do. Table-tested
// in test/services/promotion-rules.test.ts.
import semver from "semver";
import { bakeMs, durationText } from "../domain/bake.js";

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
  /** The channel's policy and what its rules need, read from the store (absent: the channel has none). */
  policy?: PolicyFacts | undefined;
}

/**
 * A channel's policy (docs/api.md §3, src/domain/schemas.ts) with the facts
 * it is decided on. The upstream rules (`upstream`, `minSoak`) bind moves
 * up; a move down (a rollback, or a promotion with allowDowngrade) is bound
 * by `downgradeRole` instead: the way back never waits for a soak
 * (docs/decisions.md).
 */
export interface PolicyFacts {
  /** With `upstream`: that channel, its release now, and since when it has been. */
  upstream?: { channel: string; current: ReleaseFact | null; since: Date | null } | undefined;
  /** With `minSoak`: as written (30s, 15m, 2h, 3d). */
  minSoak?: string | undefined;
  /** The role a move down needs (default release-engineer). */
  downgradeRole: string;
  /** Whether the caller holds downgradeRole. */
  mayDowngrade: boolean;
  now: Date;
}

export type PromotionDecision =
  | { kind: "move"; action: "promote" | "rollback" }
  | { kind: "noop"; message: string }
  | { kind: "refuse"; code: "PROMOTION_CONFLICT" | "RELEASE_YANKED" | "PROMOTION_REFUSED" | "DOWNGRADE_REFUSED" | "ROLLBACK_REFUSED" | "POLICY_REFUSED"; message: string; field?: string };

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
  const up = f.policy?.upstream;
  if (up && f.from !== undefined && f.from.channel !== up.channel) {
    return {
      kind: "refuse",
      code: "POLICY_REFUSED",
      field: "from",
      message: `channel ${f.channel} takes releases only from ${up.channel} (policy upstream: ${up.channel}), not from ${f.from.channel}: promote ${f.release.version} --to ${f.channel} --from ${up.channel}`,
    };
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
    if (f.policy && !f.policy.mayDowngrade) {
      return {
        kind: "refuse",
        code: "POLICY_REFUSED",
        field: "release",
        message: `moving channel ${f.channel} down from ${f.current.version} to ${f.release.version} needs the ${f.policy.downgradeRole} role (policy downgradeRole: ${f.policy.downgradeRole}): ask someone who holds it to roll back ${f.channel}`,
      };
    }
    return { kind: "move", action: "rollback" };
  }
  return refuseByUpstream(f) ?? { kind: "move", action: "promote" };
}

/** The policy's rules for a move up: only the upstream's release, and only after minSoak there. */
function refuseByUpstream(f: PromotionFacts): Refusal | undefined {
  const p = f.policy;
  const up = p?.upstream;
  if (!p || !up) return undefined;
  if (up.current?.id !== f.release.id) {
    const at = up.current ? `at ${up.current.version}` : "at no release";
    return {
      kind: "refuse",
      code: "POLICY_REFUSED",
      field: "release",
      message: `channel ${f.channel} takes only the current release of ${up.channel} (policy upstream: ${up.channel}), which is ${at}: promote ${f.release.version} --to ${up.channel} first`,
    };
  }
  // No recorded move to it (data from before the history): it has served the upstream longer than any soak.
  if (p.minSoak === undefined || up.since === null) return undefined;
  const need = bakeMs(p.minSoak);
  const served = p.now.getTime() - up.since.getTime();
  if (served >= need) return undefined;
  return {
    kind: "refuse",
    code: "POLICY_REFUSED",
    field: "release",
    message: `release ${f.release.version} has been the release of ${up.channel} for ${served > 0 ? durationText(served) : "0s"} (since ${up.since.toISOString()}); channel ${f.channel} needs ${p.minSoak} there (policy minSoak: ${p.minSoak}): wait ${durationText(need - served)}, then promote it`,
  };
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

/**
 * Why `channel` may not take `upstream` as its policy's upstream, or
 * undefined when it may: the upstream must exist and must not lead back to
 * the channel (a cycle would let no release reach any channel on it).
 * `upstreamOf` answers a channel's upstream (null: it has none; undefined:
 * no such channel), with the change being checked already in it.
 */
export function upstreamProblem(channel: string, upstream: string, upstreamOf: (name: string) => string | null | undefined): string | undefined {
  if (upstream === channel) return `is the channel itself; a channel's upstream is the channel its releases come from`;
  if (upstreamOf(upstream) === undefined) return `channel ${upstream} does not exist (create it first)`;
  const path = [channel, upstream];
  for (let at: string | null | undefined = upstreamOf(upstream); at; at = upstreamOf(at)) {
    path.push(at);
    if (at === channel) return `makes a cycle (${path.join(" → ")}): no release could reach any of these channels`;
    if (path.length > 1000) break;
  }
  return undefined;
}
