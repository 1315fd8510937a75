// Upgrade paths (docs/api.md §8), as one pure function: from what a
// licensee has installed (its latest healthy report, else the release it
// was last served), the release it should reach (its target: the channel's
// release, or a rollout's target in the cohort) and the releases that have
// been on the channel, to the release it is served now and why. The
// resolver (src/services/resolve-release.ts) calls it; nothing else decides
// a path. Table-tested in test/services/upgrade-path.test.ts.
//
// The rule, exactly as §8 states it: with installed I below target T, serve
// the lowest release R with I < R < T that has been on the channel, is not
// yanked, admits I (its upgradeFrom, if any) and is required, or needed
// because T.upgradeFrom does not admit I. The licensee moves on from R once
// it reports healthy on R, or has been served R for the soak without a
// failed report; then R is what it has installed and the rule applies again.
// When nothing admits I, it is served I again: no-upgrade-path.
//
// Two choices of ours (docs/decisions.md, "Upgrade paths"):
// - a stepping stone below what the licensee was last served counts as
//   passed: a path never serves a licensee a release older than the one it
//   was last served (marking an old release required after the fleet moved
//   past it sends nobody back);
// - a release that is the target and at or below what is installed needs no
//   path at all: rollbacks and downgrades are the channel's decision.
import semver from "semver";
import type { ReportState } from "../domain/schemas.js";

/** A release as the path rule sees it: one that has been on the channel (or the target). */
export interface PathRelease {
  id: string;
  version: string;
  required: boolean;
  requiredReason: string | null;
  /** The semver range of installed versions it installs over directly; null: any. */
  upgradeFrom: string | null;
  yanked: boolean;
}

/** What is known of a licensee's installation: what it was last served (and since when), and its reports. */
export interface InstallFacts {
  /**
   * The release it was last served, since when (ms since 1970) without a
   * change, and the one it was served before that (null: not known).
   */
  served: { id: string; version: string; since: number; previous: { id: string; version: string } | null } | null;
  /** Its latest report on each release it reported on. */
  reports: { id: string; version: string; state: ReportState; at: number }[];
}

export interface PathInput {
  /** null: never seen (no poll served, no report): a fresh install. */
  installed: InstallFacts | null;
  target: PathRelease;
  /** Releases that have been the channel's release (any order; the target may be among them). */
  releases: PathRelease[];
  /** Now, and STEPPING_STONE_SOAK, in ms. */
  now: number;
  soakMs: number;
}

/** One release on the way from the installed version to the target. */
export interface PathHop {
  id: string;
  version: string;
  /** required: a required release; needed: the target's upgradeFrom does not admit the version before it; target: the end. */
  why: "required" | "needed" | "target";
  requiredReason: string | null;
  /** Passed: reported healthy, soaked, or the licensee was already served something beyond it. */
  passed: boolean;
}

export type PathState = "fresh" | "current" | "direct" | "stepping-stone" | "no-upgrade-path";

export interface PathDecision {
  state: PathState;
  /** What the licensee is served now. */
  serve: { id: string; version: string };
  /** What counts as installed, and from where (null: a fresh install). */
  installed: { id: string; version: string; source: "report" | "served" } | null;
  /** The way from the installed version to the target (the target last), as planned now. */
  hops: PathHop[];
  /** The way ends before the target: no release on it admits the version before (no-upgrade-path once the licensee gets there). */
  blocked: boolean;
  /** Why, in one sentence (the resolver's reason). */
  detail: string;
  /** The path in one line: `installed 0.58.0 → 0.59.0 (required: "schema migration") → 0.61.0`. */
  text: string;
}

/** Whether `r` installs over `installed` directly. */
export function admits(r: Pick<PathRelease, "upgradeFrom">, installed: string): boolean {
  return r.upgradeFrom === null || semver.satisfies(installed, r.upgradeFrom, { includePrerelease: true });
}

/**
 * Whether any licensee's path to `target` can differ from the target
 * itself: only when the target has an upgradeFrom, or a required release
 * below it has been on the channel. When it cannot, the poll needs nothing
 * of the licensee's installation (src/services/spec-service.ts).
 */
export function pathMatters(target: PathRelease, releases: readonly PathRelease[]): boolean {
  if (target.upgradeFrom !== null) return true;
  return releases.some((r) => r.required && !r.yanked && r.id !== target.id && semver.lt(r.version, target.version));
}

/** The lowest stepping stone from `from` to the target, by §8's rule; undefined when there is none. */
function stoneAfter(from: string, target: PathRelease, releases: readonly PathRelease[]): { release: PathRelease; why: "required" | "needed" } | undefined {
  const targetAdmits = admits(target, from);
  let best: PathRelease | undefined;
  for (const r of releases) {
    if (r.yanked || r.id === target.id) continue;
    if (!semver.gt(r.version, from) || !semver.lt(r.version, target.version)) continue;
    if (!admits(r, from)) continue;
    if (!r.required && targetAdmits) continue;
    if (!best || semver.lt(r.version, best.version)) best = r;
  }
  if (!best) return undefined;
  return { release: best, why: best.required ? "required" : "needed" };
}

function hopText(h: PathHop): string {
  if (h.why === "required") return `${h.version} (required${h.requiredReason ? `: ${JSON.stringify(h.requiredReason)}` : ""})`;
  if (h.why === "needed") return `${h.version} (upgrade floor)`;
  return h.version;
}

function pathText(installed: PathDecision["installed"], hops: PathHop[], stuck: boolean): string {
  const start = installed ? `installed ${installed.version}` : "fresh install";
  const tail = hops.map(hopText);
  return [start, ...tail].join(" → ") + (stuck ? " (no upgrade path)" : "");
}

/** The latest report on each release, by id. */
function reportsById(facts: InstallFacts): Map<string, InstallFacts["reports"][number]> {
  const m = new Map<string, InstallFacts["reports"][number]>();
  for (const r of facts.reports) {
    const seen = m.get(r.id);
    if (!seen || seen.at < r.at) m.set(r.id, r);
  }
  return m;
}

/**
 * What counts as installed: the release of the latest healthy report, else
 * the one last served once it is settled (reported healthy on, or served for
 * the soak without a failed report). Until then the installation is still
 * on its way to it, from the release served before (when known): so a
 * stepping stone just served is held for its soak, reports or none.
 */
function installedOf(facts: InstallFacts, reports: ReturnType<typeof reportsById>, now: number, soakMs: number): PathDecision["installed"] {
  let healthy: InstallFacts["reports"][number] | undefined;
  for (const r of facts.reports) if (r.state === "healthy" && (!healthy || healthy.at < r.at)) healthy = r;
  if (healthy) return { id: healthy.id, version: healthy.version, source: "report" };
  const served = facts.served;
  if (!served) return null;
  const state = reports.get(served.id)?.state;
  const settled = state !== "failed" && now - served.since >= soakMs;
  if (settled || !served.previous) return { id: served.id, version: served.version, source: "served" };
  // The lower of the two: after a rollback (or an aborted rollout) the release before is the higher one,
  // and the installation may never have finished it.
  const lower = semver.lt(served.previous.version, served.version) ? served.previous : served;
  return { id: lower.id, version: lower.version, source: "served" };
}

/** Has the licensee passed stone `r`, and why (for the reasons); undefined when it has not. */
function passedBy(r: PathRelease, facts: InstallFacts, reports: ReturnType<typeof reportsById>, now: number, soakMs: number): string | undefined {
  const report = reports.get(r.id);
  if (report?.state === "healthy") return `reported healthy on ${r.version}`;
  const served = facts.served;
  if (!served) return undefined;
  if (served.id !== r.id) return semver.gt(served.version, r.version) ? `was already served ${served.version}, beyond ${r.version}` : undefined;
  if (report?.state === "failed") return undefined;
  return now - served.since >= soakMs ? `served ${r.version} for the stepping-stone soak without a failed report` : undefined;
}

function formatMs(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.ceil(s / 60);
  return m < 120 ? `${m}m` : `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ""}`;
}

/** Why the licensee is held on stone `r` now. */
function holdDetail(r: PathRelease, facts: InstallFacts, reports: ReturnType<typeof reportsById>, now: number, soakMs: number): string {
  const served = facts.served;
  if (served?.id !== r.id) return `not yet served ${r.version}`;
  if (reports.get(r.id)?.state === "failed") return `reported failed on ${r.version}: held there until it reports healthy`;
  return `waiting for a healthy report on ${r.version}, or ${formatMs(served.since + soakMs - now)} more of the soak`;
}

/** The release served to a licensee on its way to `target`, and the whole path as it stands. */
export function upgradePath(input: PathInput): PathDecision {
  const { target, releases, now, soakMs } = input;
  const targetRef = { id: target.id, version: target.version };
  const facts = input.installed;
  const reports = facts ? reportsById(facts) : new Map<string, InstallFacts["reports"][number]>();
  const installed = facts ? installedOf(facts, reports, now, soakMs) : null;
  if (!facts || !installed) {
    return { state: "fresh", serve: targetRef, installed: null, hops: [{ ...targetRef, why: "target", requiredReason: null, passed: false }], blocked: false, detail: `never seen before: a fresh install gets ${target.version} directly`, text: `fresh install → ${target.version}` };
  }
  const targetHop: PathHop = { ...targetRef, why: "target", requiredReason: target.requiredReason, passed: false };
  // Served the target or beyond already (the reports lag, or the channel rolled back): no path applies.
  const servedAtOrAbove = facts.served !== null && !semver.lt(facts.served.version, target.version);
  if (!semver.lt(installed.version, target.version) || servedAtOrAbove) {
    const detail = servedAtOrAbove && semver.lt(installed.version, target.version)
      ? `installed ${installed.version} (${installed.source}), but already served ${facts.served!.version}: no upgrade path applies at or below what it was served`
      : semver.eq(installed.version, target.version)
        ? `installed ${installed.version} (${installed.source}) is the target`
        : `installed ${installed.version} (${installed.source}) is above ${target.version}: no upgrade path applies to a downgrade`;
    return { state: "current", serve: targetRef, installed, hops: [targetHop], blocked: false, detail, text: pathText(installed, [targetHop], false) };
  }
  const hops: PathHop[] = [];
  let from: { id: string; version: string } = installed;
  let serving: { hop: PathHop; release: PathRelease } | undefined;
  const passed: string[] = [];
  // Each step moves strictly up, below the target: at most one per release.
  for (let guard = 0; guard <= releases.length; guard++) {
    const stone = stoneAfter(from.version, target, releases);
    if (!stone) break;
    const done = serving ? undefined : passedBy(stone.release, facts, reports, now, soakMs);
    const hop: PathHop = { id: stone.release.id, version: stone.release.version, why: stone.why, requiredReason: stone.release.requiredReason, passed: done !== undefined };
    hops.push(hop);
    if (done) passed.push(done);
    else if (!serving) serving = { hop, release: stone.release };
    from = stone.release;
  }
  const stuck = !admits(target, from.version);
  if (!stuck) hops.push(targetHop);
  const text = pathText(installed, hops, stuck);
  const since = passed.length ? ` (${passed.join("; ")})` : "";
  if (serving) {
    const r = serving.release;
    const why = serving.hop.why === "required" ? `${r.version} is required${r.requiredReason ? ` (${r.requiredReason})` : ""}` : `${target.version} does not install over ${installed.version}${target.upgradeFrom ? ` (upgradeFrom ${target.upgradeFrom})` : ""}, ${r.version} does`;
    return {
      state: "stepping-stone",
      serve: { id: r.id, version: r.version },
      installed,
      hops,
      blocked: stuck,
      detail: `installed ${installed.version} (${installed.source})${since}: stepping stone ${r.version} on the way to ${target.version}: ${why}; ${holdDetail(r, facts, reports, now, soakMs)}`,
      text,
    };
  }
  if (stuck) {
    // What it has: the last stone it passed, or what it was served beyond it (never lower).
    const served = facts.served;
    const keep = served && semver.gt(served.version, from.version) ? served : from;
    return {
      state: "no-upgrade-path",
      serve: { id: keep.id, version: keep.version },
      installed,
      hops,
      blocked: true,
      detail: `installed ${installed.version} (${installed.source})${since}: no release on the way to ${target.version} admits ${from.version} (${target.version} upgradeFrom ${target.upgradeFrom ?? "any"}): served ${keep.version} again`,
      text,
    };
  }
  return {
    state: "direct",
    serve: targetRef,
    installed,
    hops,
    blocked: false,
    detail: `installed ${installed.version} (${installed.source})${since}: ${target.version} installs over ${from.version} directly`,
    text,
  };
}
