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

/** What this replica served the licensee recently (the fleet recorder's recentOf). */
export type RecentServe = (sub: string) => { releaseId: string; releaseVersion: string; since: number; last: number } | undefined;

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
    const [entry, latest] = await Promise.all([store.fleet.entryOf(sub), store.reports.latestOf(sub)]);
    let served: InstallFacts["served"] = null;
    if (entry?.releaseId && entry.releaseVersion) {
      const previous = entry.previousReleaseId && entry.previousReleaseVersion ? { id: entry.previousReleaseId, version: entry.previousReleaseVersion } : null;
      served = { id: entry.releaseId, version: entry.releaseVersion, since: (entry.releaseSince ?? entry.firstSeenAt).getTime(), previous };
    }
    // This replica's own serves not written yet: newer than the row unless another replica wrote a later one.
    const local = recent(sub);
    if (local && (!entry || local.last >= entry.lastSeenAt.getTime())) {
      if (!served || served.id !== local.releaseId) {
        served = { id: local.releaseId, version: local.releaseVersion, since: local.since, previous: served ? { id: served.id, version: served.version } : null };
      } else {
        served.since = Math.min(served.since, local.since);
      }
    }
    await versionsOf(latest.map((r) => r.releaseId));
    const reports: InstallFacts["reports"] = [];
    for (const r of latest) {
      const version = versions.get(r.releaseId);
      if (version !== undefined) reports.push({ id: r.releaseId, version, state: r.state, at: r.reportedAt.getTime() });
    }
    if (!served && reports.length === 0) return null;
    return { served, reports };
  };
}
export type InstallFactsOf = ReturnType<typeof installFacts>;
