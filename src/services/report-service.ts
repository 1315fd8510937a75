// Health reports from installations (docs/api.md §9): an admitted
// licensee (src/services/poll-gate.ts, the poll's admission) says how its
// installation of a release is doing. Stored as its latest state on that
// release and in its bounded history, in one transaction
// (src/repositories/reports-repo.ts); read by the fleet view
// (src/services/fleet-service.ts), the rollout counts
// (src/services/rollout-service.ts) and the chartroom_fleet_health gauge.
import { ReleaseNotFoundError, withField } from "../errors.js";
import type { ReportInput, ReportState } from "../domain/schemas.js";
import type { Store } from "../repositories/store.js";
import { writeSlots } from "./write-slots.js";

/**
 * Report transactions at once per process, and reports waiting for one:
 * under half of the PostgreSQL pool, so the admin API and the fleet
 * recorder always find a connection; a queue long enough for a burst of
 * every installation reporting at once to wait a few seconds rather than
 * be refused (docs/decisions.md, "Health reports: one transaction each").
 */
export const REPORT_WRITE_SLOTS = 4;
export const REPORT_WRITE_QUEUE = 500;

/** Who sent a report: the verified license's claims. */
export interface Reporter {
  sub: string;
  channel: string;
  jti?: string | undefined;
}

/** What a stored report answers (202). */
export interface ReportReceipt {
  release: { id: string; version: string };
  state: ReportState;
  reportedAt: Date;
}

/** Licensees per channel, release version and state of their newest report (the metrics gauge). */
export interface FleetHealth {
  channel: string;
  release: string;
  state: ReportState;
  licensees: number;
}

export interface ReportServiceOptions {
  now?: () => Date;
  /** Told of every stored report (chartroom_reports_total). */
  onReported?: (state: ReportState) => void;
  /** Overrides REPORT_WRITE_SLOTS / REPORT_WRITE_QUEUE (tests). */
  slots?: number;
  queue?: number;
}

export function reportService(store: Pick<Store, "releases" | "reports" | "transaction">, opts: ReportServiceOptions = {}) {
  const now = opts.now ?? (() => new Date());
  const writes = writeSlots(opts.slots ?? REPORT_WRITE_SLOTS, opts.queue ?? REPORT_WRITE_QUEUE);
  return {
    /** Stores a report of `reporter` on a release (its id or version): 404 RELEASE_NOT_FOUND naming `release` when there is none. */
    async report(reporter: Reporter, input: ReportInput): Promise<ReportReceipt> {
      const release = await store.releases.findByRef(input.release);
      if (!release) throw withField(new ReleaseNotFoundError(input.release), "release", "no release has this id or version");
      const reportedAt = await writes.run(async () => {
        // When it is stored, after any wait for a slot.
        const at = now();
        await store.transaction((repos) =>
          repos.reports.record({
            sub: reporter.sub,
            releaseId: release.id,
            channel: reporter.channel,
            state: input.state,
            message: input.message ?? null,
            reportedAt: at,
            jti: reporter.jti ?? null,
          }),
        );
        return at;
      });
      opts.onReported?.(input.state);
      return { release: { id: release.id, version: release.version }, state: input.state, reportedAt };
    },

    /** Each licensee's newest report, counted per channel, release version and state by the database. */
    async fleetHealth(): Promise<FleetHealth[]> {
      const counts = await store.reports.currentDistribution();
      if (counts.length === 0) return [];
      const releases = await store.releases.findByIds([...new Set(counts.map((c) => c.releaseId))]);
      const versions = new Map(releases.map((r) => [r.id, r.version]));
      return counts.map((c) => ({ channel: c.channel, release: versions.get(c.releaseId) ?? c.releaseId, state: c.state, licensees: c.licensees }));
    },
  };
}
export type ReportService = ReturnType<typeof reportService>;
