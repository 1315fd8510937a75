// Who gets what (docs/api.md §7), as one pure function: from the facts
// already read from the store (the channel and its release, the channel's
// rollout if any, the licensee, and for a pinned poll the release it asks
// for) to the release served or the refusal, and the reasons, each named by
// a rule of §7. The poll's channel answer, the pinned poll's entitlement and
// GET /resolve all decide through resolveRelease (src/services/spec-service.ts
// calls it when it builds a spec); nothing else decides who gets what.
// Table-tested in test/services/resolve-release.test.ts.
import { cohortMembership, cohortTest, type SubList } from "../domain/cohort.js";

/** The rules a reason can name (docs/api.md §7); the last three are issue #16's upgrade paths. */
export const RESOLVE_RULES = [
  "channel",
  "rollout-cohort",
  "rollout-outside",
  "include",
  "exclude",
  "overrides",
  "anonymous",
  "stepping-stone",
  "upgrade-floor",
  "no-upgrade-path",
] as const;
export type ResolveRule = (typeof RESOLVE_RULES)[number];

export interface Reason {
  rule: ResolveRule;
  detail: string;
}

export interface ReleaseRef {
  id: string;
  version: string;
}

export const ROLLOUT_STATES = ["progressing", "paused", "halted", "completed", "aborted"] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/** A rollout of the channel, at its current step. */
export interface RolloutFacts {
  id: string;
  target: ReleaseRef;
  state: RolloutState;
  /** The current step's percent (an integer 0–100). */
  percent: number;
  include: SubList;
  exclude: SubList;
  salt: string;
}

export interface ResolveFacts {
  channel: { name: string; release: ReleaseRef | null };
  /** The channel's latest rollout, if it has one (completed and aborted ones are not active). */
  rollout?: RolloutFacts | null | undefined;
  licensee: { sub: string; anonymous: boolean; overrides: boolean };
  /** A pinned poll: the release it asks for (it exists), and what the store knows of it. */
  pinned?: { release: ReleaseRef; yanked: boolean; everHeld: boolean } | undefined;
}

export type Resolution =
  | { kind: "serve"; release: ReleaseRef; reasons: Reason[] }
  | { kind: "refuse"; status: 403 | 404; code: "CHANNEL_HAS_NO_RELEASE" | "RELEASE_NOT_ENTITLED"; message: string; reasons: Reason[] };

/** States in which a rollout serves its current step's cohort (paused and halted keep serving it). */
const ACTIVE: ReadonlySet<RolloutState> = new Set(["progressing", "paused", "halted"]);

export function isActiveRollout(r: RolloutFacts | null | undefined): r is RolloutFacts {
  return !!r && ACTIVE.has(r.state);
}

function describeRollout(r: RolloutFacts): string {
  return `rollout ${r.id} to ${r.target.version} is ${r.state} at ${r.percent} %`;
}

function channelReason(f: ResolveFacts, rollout: RolloutFacts | undefined): Reason {
  const c = f.channel;
  let detail = c.release ? `channel ${c.name} is at ${c.release.version}` : `channel ${c.name} has no release yet`;
  if (rollout) detail += `; ${describeRollout(rollout)}`;
  else if (f.rollout) detail += `; rollout ${f.rollout.id} to ${f.rollout.target.version} is ${f.rollout.state}, no longer active`;
  return { rule: "channel", detail };
}

/** Whether a licensee is in the rollout's cohort, as a function of its sub (no reasons: the poll's cache key asks it at every poll). */
export function rolloutCohortTest(r: RolloutFacts): (sub: string) => boolean {
  return cohortTest(r);
}

/** Whether the licensee is in the rollout's cohort, with the reason that says so. */
function cohortReason(r: RolloutFacts, sub: string): { in: boolean; reason: Reason } {
  const m = cohortMembership(r, sub);
  if (m.by === "include") {
    const also = m.alsoExcluded ? " (also in exclude: include wins)" : "";
    return { in: true, reason: { rule: "include", detail: `${sub} is in the include list of rollout ${r.id}${also}: in the cohort` } };
  }
  if (m.by === "exclude") return { in: false, reason: { rule: "exclude", detail: `${sub} is in the exclude list of rollout ${r.id}: outside the cohort` } };
  const where = `position ${m.position.value.toFixed(6)} (${m.position.numerator} / 2^64)`;
  return m.in
    ? { in: true, reason: { rule: "rollout-cohort", detail: `${where} is below ${r.percent} %: in the cohort of rollout ${r.id}` } }
    : { in: false, reason: { rule: "rollout-outside", detail: `${where} is not below ${r.percent} %: outside the cohort of rollout ${r.id}` } };
}

/** What changes the answer's bytes but not its release: per-license values, or their absence for anonymous polls. */
function licenseeReasons(f: ResolveFacts): Reason[] {
  const { sub, anonymous, overrides } = f.licensee;
  if (anonymous) return [{ rule: "anonymous", detail: "an anonymous poll (no Authorization header): the channel's spec, never per-license values" }];
  if (overrides) return [{ rule: "overrides", detail: `${sub} has per-license values, merged last (its own spec and ETag)` }];
  return [];
}

function refuse(status: 403 | 404, code: "CHANNEL_HAS_NO_RELEASE" | "RELEASE_NOT_ENTITLED", message: string, reasons: Reason[]): Resolution {
  return { kind: "refuse", status, code, message, reasons };
}

function resolvePinned(f: ResolveFacts, pinned: NonNullable<ResolveFacts["pinned"]>, rollout: RolloutFacts | undefined, reasons: Reason[]): Resolution {
  const v = pinned.release.version;
  const notEntitled = (detail: string) => refuse(403, "RELEASE_NOT_ENTITLED", `release ${v} is not available to this license`, [...reasons, { rule: "channel", detail }]);
  if (pinned.yanked) return notEntitled(`release ${v} is yanked: never pinned again`);
  if (rollout && rollout.target.id === pinned.release.id) {
    // The target of an active rollout: only its cohort may pin it, whatever the channel held before.
    const c = cohortReason(rollout, f.licensee.sub);
    if (!c.in) return refuse(403, "RELEASE_NOT_ENTITLED", `release ${v} is not available to this license`, [...reasons, c.reason]);
    return { kind: "serve", release: pinned.release, reasons: [...reasons, c.reason, ...licenseeReasons(f)] };
  }
  if (!pinned.everHeld) return notEntitled(`release ${v} has never been the release of channel ${f.channel.name}`);
  return { kind: "serve", release: pinned.release, reasons: [...reasons, { rule: "channel", detail: `release ${v} has been the release of channel ${f.channel.name}: it may be pinned` }, ...licenseeReasons(f)] };
}

export function resolveRelease(f: ResolveFacts): Resolution {
  const rollout = isActiveRollout(f.rollout) ? f.rollout : undefined;
  const reasons = [channelReason(f, rollout)];
  if (f.pinned) return resolvePinned(f, f.pinned, rollout, reasons);

  let release = f.channel.release;
  if (rollout) {
    const c = cohortReason(rollout, f.licensee.sub);
    reasons.push(c.reason);
    if (c.in) release = rollout.target;
  }
  if (!release) return refuse(404, "CHANNEL_HAS_NO_RELEASE", `channel ${f.channel.name} has no release yet`, reasons);
  return { kind: "serve", release, reasons: [...reasons, ...licenseeReasons(f)] };
}
