// Who gets what (docs/api.md §7), as one pure function: from the facts
// already read from the store (the channel and its release, the channel's
// rollout if any, the licensee, and for a pinned poll the release it asks
// for) to the release served or the refusal, and the reasons, each named by
// a rule of §7. The poll's channel answer, the pinned poll's entitlement and
// GET /resolve all decide through resolveRelease (src/services/spec-service.ts
// calls it when it builds a spec); nothing else decides who gets what.
// Table-tested in test/services/resolve-release.test.ts.
import { cohortMembership, cohortTest, type SubList } from "../domain/cohort.js";
import { pathMatters, upgradePath, type InstallFacts, type PathDecision, type PathRelease } from "./upgrade-path.js";

/** The rules a reason can name (docs/api.md §7); the last three are upgrade paths (§8). */
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
  /**
   * Upgrade paths (docs/api.md §8, src/services/upgrade-path.ts): the
   * releases that have been on the channel, the path facts of the releases
   * a licensee may be headed for (the channel's release, a rollout's
   * target, a pinned release), and what it has installed. Without it, or
   * when a target is not among `targets`, no path applies: callers leave
   * it out only when pathMatters says no licensee's path can differ from
   * its target (src/services/spec-service.ts).
   */
  path?: PathFacts | undefined;
}

export interface PathFacts {
  held: PathRelease[];
  targets: PathRelease[];
  /** null: a fresh install (never served, never reported). */
  installed: InstallFacts | null;
  now: number;
  soakMs: number;
}

export type RefusalCode = "CHANNEL_HAS_NO_RELEASE" | "RELEASE_NOT_ENTITLED" | "RELEASE_YANKED" | "UPGRADE_PATH_REQUIRED";

export type Resolution =
  | { kind: "serve"; release: ReleaseRef; reasons: Reason[]; path?: PathDecision | undefined }
  | { kind: "refuse"; status: 403 | 404; code: RefusalCode; message: string; reasons: Reason[]; path?: PathDecision | undefined };

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

function refuse(status: 403 | 404, code: RefusalCode, message: string, reasons: Reason[], path?: PathDecision): Resolution {
  return { kind: "refuse", status, code, message, reasons, path };
}

/**
 * The path from the licensee's installation to `target`, when one can
 * apply (src/services/upgrade-path.ts); undefined when no licensee's path
 * can differ from the target itself. Anonymous polls are one shared row of
 * the fleet, not an installation: no path applies to them.
 */
function pathTo(f: ResolveFacts, target: ReleaseRef): PathDecision | undefined {
  const p = f.path;
  if (!p || f.licensee.anonymous) return undefined;
  const t = p.targets.find((r) => r.id === target.id);
  if (!t || !pathMatters(t, p.held)) return undefined;
  return upgradePath({ installed: p.installed, target: t, releases: p.held, now: p.now, soakMs: p.soakMs });
}

/** The reason a path gives, by §7's rules: the stone's kind, no path, or the channel's rule when it goes straight to the target. */
function pathReason(d: PathDecision): Reason {
  const detail = `${d.detail} (path: ${d.text})`;
  if (d.state === "no-upgrade-path") return { rule: "no-upgrade-path", detail };
  if (d.state === "stepping-stone") return { rule: d.hops.find((h) => !h.passed)?.why === "needed" ? "upgrade-floor" : "stepping-stone", detail };
  return { rule: "channel", detail };
}

function resolvePinned(f: ResolveFacts, pinned: NonNullable<ResolveFacts["pinned"]>, rollout: RolloutFacts | undefined, reasons: Reason[]): Resolution {
  const v = pinned.release.version;
  const notEntitled = (detail: string) => refuse(403, "RELEASE_NOT_ENTITLED", `release ${v} is not available to this license`, [...reasons, { rule: "channel", detail }]);
  if (pinned.yanked) return refuse(403, "RELEASE_YANKED", `release ${v} is yanked: it is never served again`, [...reasons, { rule: "channel", detail: `release ${v} is yanked: never pinned again` }]);
  let entitled: Reason;
  if (rollout && rollout.target.id === pinned.release.id) {
    // The target of an active rollout: only its cohort may pin it, whatever the channel held before.
    const c = cohortReason(rollout, f.licensee.sub);
    if (!c.in) return refuse(403, "RELEASE_NOT_ENTITLED", `release ${v} is not available to this license`, [...reasons, c.reason]);
    entitled = c.reason;
  } else {
    if (!pinned.everHeld) return notEntitled(`release ${v} has never been the release of channel ${f.channel.name}`);
    entitled = { rule: "channel", detail: `release ${v} has been the release of channel ${f.channel.name}: it may be pinned` };
  }
  // The same path rules as the channel's answer: a pin the installation cannot reach directly is refused, naming the way.
  const path = pathTo(f, pinned.release);
  if (path && (path.state === "stepping-stone" || path.state === "no-upgrade-path")) {
    const from = path.installed!.version;
    const stone = path.state === "stepping-stone" ? path.serve.version : undefined;
    const hop = path.hops.find((h) => h.version === stone);
    const why = hop?.why === "required" ? `required${hop.requiredReason ? `: ${JSON.stringify(hop.requiredReason)}` : ""}` : "upgrade floor";
    const message = stone
      ? `release ${v} cannot be installed over ${from} directly: install ${stone} first (${why}); path: ${path.text}`
      : `release ${v} cannot be installed over ${from}: no release on the way admits it; path: ${path.text}`;
    return refuse(403, "UPGRADE_PATH_REQUIRED", message, [...reasons, entitled, pathReason(path)], path);
  }
  return { kind: "serve", release: pinned.release, reasons: [...reasons, entitled, ...(path ? [pathReason(path)] : []), ...licenseeReasons(f)], path };
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
  // A rollout applies to the target; outside its cohort the path leads to the channel's release.
  const path = pathTo(f, release);
  if (path) {
    reasons.push(pathReason(path));
    release = path.serve;
  }
  return { kind: "serve", release, reasons: [...reasons, ...licenseeReasons(f)], path };
}
