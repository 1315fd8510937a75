// The fleet as vendor operations see it: one entry per licensee (channel,
// release last served, first/last seen, polls, user agent) with the state
// of the license it last used, and how many licensees run each release.
// The fleet recorder (fleet-recorder.ts) writes the entries; this reads them,
// with each licensee's newest health report (src/services/report-service.ts)
// or null.
// Anonymous polls (ANONYMOUS_CHANNEL) are one entry, the reserved licensee
// "(anonymous)" (src/licensing/anonymous.ts), marked `anonymous`.
import type { FleetCount, FleetFilter } from "../repositories/fleet-repo.js";
import { cursorKey, toPage } from "../repositories/paging.js";
import type { Store } from "../repositories/store.js";
import { ANONYMOUS_SUB } from "../licensing/anonymous.js";
import type { ReportState } from "../domain/schemas.js";
import type { SpecService } from "./spec-service.js";
import type { PathDecision, PathState } from "./upgrade-path.js";
import { factsOf, servedOf, type FleetRowFacts } from "./install-facts.js";
import { FleetEntryNotFoundError } from "../errors.js";

type FleetRow = Awaited<ReturnType<Store["fleet"]["list"]>>[number];

export interface FleetQuery {
  channel?: string | undefined;
  /** Only licensees silent for at least this long. */
  notSeenForHours?: number | undefined;
  /** Only licensees whose sub contains this. */
  q?: string | undefined;
  /** One page by sub ascending (with nextCursor) instead of the whole fleet newest first. */
  limit?: number | undefined;
  cursor?: string | undefined;
  /** Only licensees whose upgrade path is in this state (docs/api.md §8): on a stepping stone, or stuck. */
  path?: "stepping-stone" | "no-upgrade-path" | undefined;
}

/** Licensees on a stepping stone or stuck, per channel (the chartroom_fleet_paths gauge). */
export interface PathCount {
  channel: string;
  state: Extract<PathState, "stepping-stone" | "no-upgrade-path">;
  licensees: number;
}

/** How long the path census is reused between scrapes: it reads a channel's whole fleet. */
const CENSUS_TTL_MS = 30_000;

/** The release label of licensees that were served none. */
export const NO_RELEASE = "none";

/** Licensees per channel and release: one row per pair (the metrics gauge). */
export interface FleetLicensees {
  channel: string;
  release: string;
  licensees: number;
}

function labelled(counts: FleetCount[]): FleetLicensees[] {
  return counts.map((c) => ({ channel: c.channel, release: c.releaseVersion ?? NO_RELEASE, licensees: c.licensees }));
}

/** A licensee's newest health report, as the fleet shows it. */
export interface FleetReport {
  state: ReportState;
  releaseId: string;
  releaseVersion: string | null;
  message: string | null;
  reportedAt: Date;
}

export interface FleetServiceOptions {
  now?: () => Date;
  /** The spec service's path decisions (docs/api.md §8); without it no entry has a path. */
  paths?: Pick<SpecService, "pathsFor" | "pathsMatterOn">;
}

type PathRow = FleetRowFacts & { sub: string; channel: string };

export function fleetService(store: Pick<Store, "fleet" | "licenses" | "reports" | "releases" | "channels">, opts: FleetServiceOptions = {}) {
  const now = opts.now ?? (() => new Date());
  let census: { at: number; counts: Promise<PathCount[]> } | undefined;

  /**
   * Each entry's upgrade path, as its next poll would decide it from the
   * fleet table and its reports (what a replica served in the last minute
   * and has not written yet is not in the table). Only channels where a
   * path can apply are read at all.
   */
  async function pathsOf(rows: PathRow[]): Promise<Map<string, PathDecision>> {
    const out = new Map<string, PathDecision>();
    const paths = opts.paths;
    if (!paths || rows.length === 0) return out;
    const byChannel = new Map<string, PathRow[]>();
    for (const r of rows) {
      let list = byChannel.get(r.channel);
      if (!list) byChannel.set(r.channel, (list = []));
      list.push(r);
    }
    const relevant: PathRow[][] = [];
    for (const [channel, list] of byChannel) if (await paths.pathsMatterOn(channel)) relevant.push(list);
    if (relevant.length === 0) return out;
    const subs = relevant.flat().map((r) => r.sub);
    const latest = await store.reports.latestOfSubs(subs.length > 1000 ? undefined : subs);
    const versions = new Map((await store.releases.findByIds([...new Set(latest.map((r) => r.releaseId))])).map((r) => [r.id, r.version]));
    const reportsBySub = new Map<string, typeof latest>();
    for (const r of latest) {
      let list = reportsBySub.get(r.sub);
      if (!list) reportsBySub.set(r.sub, (list = []));
      list.push(r);
    }
    for (const list of relevant) {
      const installs = new Map(list.map((r) => [r.sub, factsOf(servedOf(r), reportsBySub.get(r.sub) ?? [], (id) => versions.get(id))]));
      for (const [sub, d] of await paths.pathsFor(list[0]!.channel, installs)) out.set(sub, d);
    }
    return out;
  }

  /** Licensees on a stepping stone and stuck, per channel where a path applies (reused for CENSUS_TTL_MS). */
  async function countPaths(): Promise<PathCount[]> {
    const counts: PathCount[] = [];
    for (const c of await store.channels.list()) {
      if (!(await opts.paths?.pathsMatterOn(c.name))) continue;
      const paths = await pathsOf(await store.fleet.list({ channel: c.name }));
      let stone = 0;
      let stuck = 0;
      for (const d of paths.values()) {
        if (d.state === "stepping-stone") stone++;
        else if (d.state === "no-upgrade-path") stuck++;
      }
      counts.push({ channel: c.name, state: "stepping-stone", licensees: stone }, { channel: c.name, state: "no-upgrade-path", licensees: stuck });
    }
    return counts;
  }

  function filterOf(q: FleetQuery): FleetFilter {
    const seenBefore = q.notSeenForHours !== undefined ? new Date(now().getTime() - q.notSeenForHours * 3_600_000) : undefined;
    return { channel: q.channel, seenBefore, subContains: q.q };
  }

  /** The newest report of each of these licensees, with its release's version. */
  async function reportsOf(subs: string[]): Promise<Map<string, FleetReport>> {
    // A large fleet: one query for every licensee's report beats many IN lists.
    const current = await store.reports.currentOf(subs.length > 1000 ? undefined : subs);
    if (current.length === 0) return new Map();
    const releases = await store.releases.findByIds([...new Set(current.map((r) => r.releaseId))]);
    const versions = new Map(releases.map((r) => [r.id, r.version]));
    return new Map(current.map((r) => [r.sub, { state: r.state, releaseId: r.releaseId, releaseVersion: versions.get(r.releaseId) ?? null, message: r.message, reportedAt: r.reportedAt }]));
  }

  /** The entries with their license's state and newest report. */
  async function decorate(rows: FleetRow[]) {
    const jtis = rows.map((r) => r.jti).filter((j): j is string => !!j);
    const [issued, revocations, reports] = await Promise.all([store.licenses.issuedByJtis(jtis), store.licenses.allRevocations(), reportsOf(rows.map((r) => r.sub))]);
    const expiry = new Map(issued.map((l) => [l.jti, l.expiresAt]));
    const revoked = new Set(revocations.map((r) => r.jti));
    const t = now().getTime();
    return rows.map((r) => {
      // What this server issued wins; else the `exp` the licensee last presented.
      const expiresAt = (r.jti ? expiry.get(r.jti) : undefined) ?? r.licenseExpiresAt ?? null;
      return {
        ...r,
        licenseExpiresAt: expiresAt,
        licenseExpired: expiresAt !== null && expiresAt.getTime() <= t,
        licenseRevoked: r.jti ? revoked.has(r.jti) : false,
        anonymous: r.sub === ANONYMOUS_SUB,
        report: reports.get(r.sub) ?? null,
      };
    });
  }

  /**
   * The filtered fleet whose path is in `state`: every filtered entry is read
   * and decided (a path is not a column), then paged by sub like the table.
   */
  async function listOnPath(filter: FleetFilter, state: NonNullable<FleetQuery["path"]>, q: FleetQuery) {
    const all = await store.fleet.list(filter);
    const paths = await pathsOf(all);
    let items = all.filter((r) => paths.get(r.sub)?.state === state);
    if (q.limit === undefined) return { items, nextCursor: undefined };
    items = items.sort((a, b) => (a.sub < b.sub ? -1 : a.sub > b.sub ? 1 : 0));
    const after = cursorKey(q.cursor, "sub");
    if (after !== undefined) items = items.filter((r) => r.sub > after);
    return toPage(items.slice(0, q.limit + 1), q.limit, (r) => r.sub);
  }

  return {
    /** Licensees on a stepping stone and stuck, per channel where a path applies (the gauge; reused for 30 s). */
    async pathCounts(): Promise<PathCount[]> {
      const t = Date.now();
      if (!census || t - census.at >= CENSUS_TTL_MS) {
        const counts = countPaths();
        census = { at: t, counts };
        // A failed census is not kept: the next scrape tries again.
        counts.catch(() => (census = undefined));
      }
      return census.counts;
    },

    /** One licensee's entry as in `view`, or FLEET_ENTRY_NOT_FOUND when it has none. */
    async entry(sub: string) {
      const row = await store.fleet.find(sub);
      if (!row) throw new FleetEntryNotFoundError(sub);
      const [entry] = await decorate([row]);
      return { ...entry!, path: (await pathsOf([row])).get(sub) ?? null };
    },

    /** The licensee's last health reports (at most REPORT_HISTORY_MAX), newest first, each with its release's version. */
    async reports(sub: string): Promise<(FleetReport & { channel: string })[]> {
      const history = await store.reports.history(sub);
      const releases = history.length ? await store.releases.findByIds([...new Set(history.map((r) => r.releaseId))]) : [];
      const versions = new Map(releases.map((r) => [r.id, r.version]));
      return history.map((r) => ({ state: r.state, releaseId: r.releaseId, releaseVersion: versions.get(r.releaseId) ?? null, channel: r.channel, message: r.message, reportedAt: r.reportedAt }));
    },

    /** Licensees per channel and release, counted by the database (the one distribution computation). */
    async distribution(q: FleetQuery = {}): Promise<FleetLicensees[]> {
      return labelled(await store.fleet.distribution(filterOf(q)));
    },

    /**
     * The entries, newest check-in first (with `limit`: one page by sub
     * ascending, and nextCursor), and the distribution of every filtered
     * entry as channel → release → licensees.
     */
    async view(q: FleetQuery = {}) {
      const filter = filterOf(q);
      const listed = q.path !== undefined ? listOnPath(filter, q.path, q) : q.limit !== undefined ? store.fleet.page(filter, { limit: q.limit, cursor: q.cursor }) : store.fleet.list(filter).then((items) => ({ items, nextCursor: undefined }));
      const [{ items: rows, nextCursor }, counts] = await Promise.all([listed, store.fleet.distribution(filter)]);
      const paths = await pathsOf(rows);
      const entries = (await decorate(rows)).map((e) => ({ ...e, path: paths.get(e.sub) ?? null }));
      const distribution: Record<string, Record<string, number>> = {};
      for (const c of labelled(counts)) (distribution[c.channel] ??= {})[c.release] = c.licensees;
      return { entries, distribution, nextCursor };
    },
  };
}
export type FleetService = ReturnType<typeof fleetService>;
export type FleetView = Awaited<ReturnType<FleetService["view"]>>;
