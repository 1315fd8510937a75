// Health reports from installations (docs/api.md §9): the latest state of
// each licensee on each release (HealthReport, one row per licensee and
// release; `current` on its newest of all) and a bounded history per
// licensee (HealthReportEntry, the last REPORT_HISTORY_MAX). `record` is
// meant to run in one transaction (src/services/report-service.ts):
// reports are rare (one every few minutes per installation), so one small
// transaction each costs less than batching would in complexity
// (docs/decisions.md, "Health reports: one transaction each").
import type { Db, Provider } from "../db/client.js";
import type { ReportState } from "../domain/schemas.js";
import { dateParam } from "./fleet-repo.js";

/** Reports kept per licensee in the history; older ones are deleted when one is added. */
export const REPORT_HISTORY_MAX = 50;

/**
 * The namespace of the per-licensee report locks (PostgreSQL):
 * pg_advisory_xact_lock(int4, int4) with the sub's hash second, next to
 * the progression locks of src/repositories/rollouts-repo.ts.
 */
export const REPORT_LOCK_NAMESPACE = 72_431_171;

/** One report as stored. */
export interface HealthReport {
  sub: string;
  releaseId: string;
  channel: string;
  state: ReportState;
  message: string | null;
  reportedAt: Date;
  jti: string | null;
}

/** Licensees whose latest report on a release is in each state. */
export type ReportCounts = Record<ReportState, number>;

/** Which licensees a count is about: those that reported with a license of `channel`, or these subs. */
export type ReportScope = { channel: string } | { subs: string[] };

/** Latest reports, per channel, release and state (the chartroom_fleet_health gauge). */
export interface HealthCount {
  channel: string;
  releaseId: string;
  state: ReportState;
  licensees: number;
}

/** Subs per `IN (…)` list: well within both databases' parameter limits. */
const SUBS_PER_QUERY = 500;

type Row = { sub: string; releaseId: string; channel: string; state: string; message: string | null; reportedAt: Date; jti: string | null };
function toReport(r: Row): HealthReport {
  return { sub: r.sub, releaseId: r.releaseId, channel: r.channel, state: r.state as ReportState, message: r.message, reportedAt: r.reportedAt, jti: r.jti };
}

function emptyCounts(): ReportCounts {
  return { applying: 0, healthy: 0, degraded: 0, failed: 0 };
}

export function reportsRepo(db: Pick<Db, "healthReport" | "healthReportEntry" | "$executeRawUnsafe">, provider: Provider) {
  async function countsWhere(where: { releaseId: string; channel?: string; sub?: { in: string[] } }, into: ReportCounts): Promise<void> {
    const rows = await db.healthReport.groupBy({ by: ["state"], where, _count: { _all: true } });
    for (const r of rows) if (r.state in into) into[r.state as ReportState] += r._count._all;
  }

  return {
    /**
     * In a transaction: stores one report as the licensee's latest on its
     * release (and its newest of all) unless a newer one is stored there
     * (by `reportedAt`), adds it to the history and deletes
     * what falls beyond the last REPORT_HISTORY_MAX. On PostgreSQL the
     * licensee's report lock comes first, so two reports of one licensee
     * at once are stored one after the other (SQLite serializes every
     * write transaction already).
     */
    async record(r: HealthReport): Promise<void> {
      if (provider === "postgresql") await db.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${REPORT_LOCK_NAMESPACE}, hashtext($1))`, r.sub);
      // Never an older report over a newer one: reports of one licensee may
      // commit out of the order of their times (taken before the lock, or on
      // replicas whose clocks differ), so the time decides, not the commit.
      await db.healthReport.updateMany({ where: { sub: r.sub, current: true, NOT: { releaseId: r.releaseId }, reportedAt: { lte: r.reportedAt } }, data: { current: false } });
      const newerElsewhere = await db.healthReport.count({ where: { sub: r.sub, current: true, NOT: { releaseId: r.releaseId } } });
      const current = newerElsewhere === 0 ? "TRUE" : "FALSE";
      // One INSERT … ON CONFLICT (both providers speak it), not Prisma's upsert, which may read first.
      const marks = provider === "postgresql" ? ["$1", "$2", "$3", "$4", "$5", "$6", "$7"] : Array<string>(7).fill("?");
      const updates = ["channel", "state", "message", "reportedAt", "jti"].map((c) => `"${c}" = excluded."${c}"`).join(", ");
      await db.$executeRawUnsafe(
        `INSERT INTO "HealthReport" ("sub", "releaseId", "channel", "state", "message", "reportedAt", "jti", "current") VALUES (${marks.join(", ")}, ${current}) ` +
          `ON CONFLICT ("sub", "releaseId") DO UPDATE SET ${updates}, "current" = excluded."current" WHERE "HealthReport"."reportedAt" <= excluded."reportedAt"`,
        r.sub,
        r.releaseId,
        r.channel,
        r.state,
        r.message,
        dateParam(provider, r.reportedAt.getTime()),
        r.jti,
      );
      await db.healthReportEntry.create({ data: { sub: r.sub, releaseId: r.releaseId, channel: r.channel, state: r.state, message: r.message, reportedAt: r.reportedAt, jti: r.jti } });
      // Everything of this licensee before the oldest entry kept, in one
      // statement (no rows: the subquery is NULL and nothing goes).
      const [a, b] = provider === "postgresql" ? ["$1", "$2"] : ["?", "?"];
      await db.$executeRawUnsafe(
        `DELETE FROM "HealthReportEntry" WHERE "sub" = ${a} AND "id" < ` +
          `(SELECT "id" FROM "HealthReportEntry" WHERE "sub" = ${b} ORDER BY "id" DESC LIMIT 1 OFFSET ${REPORT_HISTORY_MAX - 1})`,
        r.sub,
        r.sub,
      );
    },

    /** Each licensee's newest report of all, for these subs (every licensee when omitted). */
    async currentOf(subs?: string[]): Promise<HealthReport[]> {
      if (subs === undefined) return (await db.healthReport.findMany({ where: { current: true } })).map(toReport);
      const out: HealthReport[] = [];
      for (let i = 0; i < subs.length; i += SUBS_PER_QUERY) {
        const rows = await db.healthReport.findMany({ where: { current: true, sub: { in: subs.slice(i, i + SUBS_PER_QUERY) } } });
        out.push(...rows.map(toReport));
      }
      return out;
    },

    /** The licensee's latest report on each release it reported on, newest first. */
    async latestOf(sub: string): Promise<HealthReport[]> {
      return (await db.healthReport.findMany({ where: { sub }, orderBy: { reportedAt: "desc" } })).map(toReport);
    },

    /** The latest report of these licensees on each release they reported on (every licensee's when omitted). */
    async latestOfSubs(subs?: string[]): Promise<HealthReport[]> {
      if (subs === undefined) return (await db.healthReport.findMany()).map(toReport);
      const out: HealthReport[] = [];
      for (let i = 0; i < subs.length; i += SUBS_PER_QUERY) out.push(...(await db.healthReport.findMany({ where: { sub: { in: subs.slice(i, i + SUBS_PER_QUERY) } } })).map(toReport));
      return out;
    },

    /** The licensee's history, newest first (at most REPORT_HISTORY_MAX). */
    async history(sub: string): Promise<HealthReport[]> {
      return (await db.healthReportEntry.findMany({ where: { sub }, orderBy: { id: "desc" } })).map(toReport);
    },

    /**
     * How many licensees' latest report on `releaseId` is in each state,
     * among those of `scope`: counted by the database (a rollout's counts
     * and its `reports` gate ask this).
     */
    async countsOn(releaseId: string, scope: ReportScope): Promise<ReportCounts> {
      const counts = emptyCounts();
      if ("channel" in scope) {
        await countsWhere({ releaseId, channel: scope.channel }, counts);
        return counts;
      }
      for (let i = 0; i < scope.subs.length; i += SUBS_PER_QUERY) {
        await countsWhere({ releaseId, sub: { in: scope.subs.slice(i, i + SUBS_PER_QUERY) } }, counts);
      }
      return counts;
    },

    /** Each licensee's newest report, counted per channel, release and state by the database. */
    async currentDistribution(): Promise<HealthCount[]> {
      const rows = await db.healthReport.groupBy({ by: ["channel", "releaseId", "state"], where: { current: true }, _count: { _all: true } });
      return rows.map((r) => ({ channel: r.channel, releaseId: r.releaseId, state: r.state as ReportState, licensees: r._count._all }));
    },
  };
}
export type ReportsRepo = ReturnType<typeof reportsRepo>;
