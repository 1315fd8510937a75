// What a licensee has installed, as the upgrade-path rule reads it
// (docs/api.md §8, src/services/upgrade-path.ts): its fleet entry (the
// release last served, since when, and the one before) and its latest
// report on each release, read from the database at the poll, with what
// this replica served it in the last seconds and has not written yet (the
// fleet recorder's memory, src/services/fleet-recorder.ts). Read only for
// polls whose path can differ from their target (src/services/spec-service.ts),
// so the database is asked only while some release on the way is required
// or the target has an upgrade floor.
import { LRUCache } from "lru-cache";
import type { Store } from "../repositories/store.js";
import type { InstallFacts } from "./upgrade-path.js";

/** The fields of a fleet entry the path rule reads. */
export interface FleetRowFacts {
  releaseId: string | null;
  releaseVersion: string | null;
  releaseSince: Date | null;
  previousReleaseId: string | null;
  previousReleaseVersion: string | null;
  firstSeenAt: Date;
}

/** What a fleet entry says was served last (null: nothing yet). */
export function servedOf(entry: FleetRowFacts | null): InstallFacts["served"] {
  if (!entry?.releaseId || !entry.releaseVersion) return null;
  const previous = entry.previousReleaseId && entry.previousReleaseVersion ? { id: entry.previousReleaseId, version: entry.previousReleaseVersion } : null;
  return { id: entry.releaseId, version: entry.releaseVersion, since: (entry.releaseSince ?? entry.firstSeenAt).getTime(), previous };
}

/** The installation facts from what was served and the latest reports (with their versions); null: a fresh install. */
export function factsOf(served: InstallFacts["served"], latest: { releaseId: string; state: InstallFacts["reports"][number]["state"]; reportedAt: Date }[], versionOf: (id: string) => string | undefined): InstallFacts | null {
  const reports: InstallFacts["reports"] = [];
  for (const r of latest) {
    const version = versionOf(r.releaseId);
    if (version !== undefined) reports.push({ id: r.releaseId, version, state: r.state, at: r.reportedAt.getTime() });
  }
  if (!served && reports.length === 0) return null;
  return { served, reports };
}

/** What this replica served the licensee recently (the fleet recorder's recentOf). */
export type RecentServe = (sub: string) => { releaseId: string; releaseVersion: string; since: number; last: number; previous: { id: string; version: string } | null } | undefined;

export function installFacts(store: Pick<Store, "fleet" | "reports" | "releases">, recent: RecentServe = () => undefined) {
  // Release ids to versions: releases are immutable, so this never goes stale.
  const versions = new LRUCache<string, string>({ max: 10_000 });

  async function versionsOf(ids: string[]): Promise<void> {
    const missing = ids.filter((id) => !versions.has(id));
    if (missing.length === 0) return;
    for (const r of await store.releases.findByIds([...new Set(missing)])) versions.set(r.id, r.version);
  }

  /** The licensee's installation facts; null when it was never served and never reported (a fresh install). */
  return async function of(sub: string): Promise<InstallFacts | null> {
    const [entry, latest] = await Promise.all([store.fleet.find(sub), store.reports.latestOf(sub)]);
    let served = servedOf(entry);
    // This replica's own serves not written yet: newer than the row unless another replica wrote a later one.
    const local = recent(sub);
    if (local && (!entry || local.last >= entry.lastSeenAt.getTime())) {
      if (!served || served.id !== local.releaseId) {
        served = { id: local.releaseId, version: local.releaseVersion, since: local.since, previous: served ? { id: served.id, version: served.version } : local.previous };
      } else {
        served.since = Math.min(served.since, local.since);
      }
    }
    await versionsOf(latest.map((r) => r.releaseId));
    return factsOf(served, latest, (id) => versions.get(id));
  };
}
export type InstallFactsOf = ReturnType<typeof installFacts>;
