// The fleet as vendor operations see it: one entry per licensee (channel,
// release last served, first/last seen, polls, user agent) with the state
// of the license it last used, and how many licensees run each release.
// The fleet recorder (fleet-recorder.ts) writes the entries; this reads them,
// with each licensee's newest health report (src/services/report-service.ts)
// or null.
// Anonymous polls (ANONYMOUS_CHANNEL) are one entry, the reserved licensee
// "(anonymous)" (src/licensing/anonymous.ts), marked `anonymous`.
import type { FleetCount, FleetFilter } from "../repositories/fleet-repo.js";
import type { Store } from "../repositories/store.js";
import { ANONYMOUS_SUB } from "../licensing/anonymous.js";
import type { ReportState } from "../domain/schemas.js";
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
}

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

export function fleetService(store: Pick<Store, "fleet" | "licenses" | "reports" | "releases">, opts: { now?: () => Date } = {}) {
  const now = opts.now ?? (() => new Date());

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

  return {
    /** One licensee's entry as in `view`, or FLEET_ENTRY_NOT_FOUND when it has none. */
    async entry(sub: string) {
      const row = await store.fleet.find(sub);
      if (!row) throw new FleetEntryNotFoundError(sub);
      return (await decorate([row]))[0]!;
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
      const listed = q.limit !== undefined ? store.fleet.page(filter, { limit: q.limit, cursor: q.cursor }) : store.fleet.list(filter).then((items) => ({ items, nextCursor: undefined }));
      const [{ items: rows, nextCursor }, counts] = await Promise.all([listed, store.fleet.distribution(filter)]);
      const entries = await decorate(rows);
      const distribution: Record<string, Record<string, number>> = {};
      for (const c of labelled(counts)) (distribution[c.channel] ??= {})[c.release] = c.licensees;
      return { entries, distribution, nextCursor };
    },
  };
}
export type FleetService = ReturnType<typeof fleetService>;
export type FleetView = Awaited<ReturnType<FleetService["view"]>>;
