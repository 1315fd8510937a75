import type { Db, Provider } from "../db/client.js";
import { cursorKey, toPage, type PageRequest } from "./paging.js";

/**
 * Runs statements in one transaction, synchronously, on a connection of its
 * own (SQLite: see createStore). Fleet writes are telemetry: they take this
 * path so that they neither wait for nor force an fsync per statement.
 */
export interface BulkWriter {
  runAll(statements: { sql: string; params: unknown[] }[]): Promise<void>;
}

/** One operator poll: who, on which channel, served which release. */
export interface Poll {
  sub: string;
  channel: string;
  releaseId: string | null;
  releaseVersion: string | null;
  jti: string | null;
  /** The `exp` of the license used (seconds), whoever issued it. */
  licenseExp: number | null;
  userAgent: string | null;
}

/** What one licensee's polls since the last flush add up to (times in ms since the epoch). */
export interface PollSummary extends Poll {
  /** Since when the licensee has been served `releaseId` (on the replica that writes this); default firstSeenAt. */
  releaseSince?: number;
  /** What the writing replica served before `releaseId`: stored for a new entry (an existing one keeps its own record). */
  previousReleaseId?: string | null;
  previousReleaseVersion?: string | null;
  firstSeenAt: number;
  lastSeenAt: number;
  polls: number;
}

/**
 * Rows per INSERT statement when writing polls in bulk: at least the fleet
 * recorder's batch (400), so each of its writes is one statement, atomic
 * on PostgreSQL too (4,000 parameters, well within both databases' limits).
 */
const BATCH = 500;
/** The fleet's table: the model is FleetEntry, the table kept its first name (@@map in prisma/models.prisma). */
const TABLE = `"Instance"`;
const COLUMNS = ["sub", "channel", "releaseId", "releaseVersion", "jti", "licenseExpiresAt", "userAgent", "firstSeenAt", "lastSeenAt", "pollCount", "releaseSince", "previousReleaseId", "previousReleaseVersion"] as const;

/**
 * The range of times a fleet entry stores: 1970 to the end of year 9999,
 * what both providers' columns, Prisma's reading of SQLite's text and every
 * client of the admin API can represent. `new Date(ms).toISOString()`
 * throws a RangeError past year 275760 and writes "+010000-…" past 9999,
 * which failed every batch holding a far-future license `exp` (issue 13).
 */
const EARLIEST_MS = 0;
const LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Dates as each provider's column stores them: SQLite keeps Prisma's ISO text
 * with "+00:00"; PostgreSQL's timestamp(3) takes the UTC wall time. A time
 * beyond the storable range is clamped to it.
 */
export function dateParam(provider: Provider, ms: number): string {
  const iso = new Date(Math.min(Math.max(ms, EARLIEST_MS), LATEST_MS)).toISOString();
  return provider === "sqlite" ? iso.replace("Z", "+00:00") : iso.replace("Z", "");
}

/** A required time of a poll summary: a bad one refuses the row (the recorder isolates it), never the batch silently. */
function requiredTime(p: PollSummary, field: "firstSeenAt" | "lastSeenAt" | "releaseSince"): number {
  const ms = p[field];
  if (typeof ms !== "number" || !Number.isFinite(ms)) throw new RangeError(`fleet entry ${JSON.stringify(p.sub)}: ${field} is not a time (${String(ms)})`);
  return ms;
}

/** The license's `exp` in ms, clamped; null when there is none, or it is not a number at all. */
function licenseExpMs(p: PollSummary): number | null {
  const exp = p.licenseExp;
  return typeof exp === "number" && !Number.isNaN(exp) ? exp * 1000 : null;
}

/** Which entries: one channel, or only those silent since `seenBefore`. */
export interface FleetFilter {
  channel?: string | undefined;
  seenBefore?: Date | undefined;
  /** Only subs containing this; ASCII letters match in either case on both databases. */
  subContains?: string | undefined;
}

/** Licensees last served a release (null: none was served), per channel. */
export interface FleetCount {
  channel: string;
  releaseVersion: string | null;
  licensees: number;
}

export function fleetRepo(db: Pick<Db, "fleetEntry" | "$executeRawUnsafe">, provider: Provider, bulk?: BulkWriter) {
  function where(filter: FleetFilter, after?: string) {
    // SQLite's LIKE folds ASCII case; PostgreSQL's needs ILIKE (mode insensitive, a
    // PostgreSQL-only option the SQLite client's types do not know). Prisma passes
    // % and _ to LIKE as wildcards and SQLite's LIKE has no escape character:
    // the admin API refuses them in q (src/routes/admin/dto/fleet.ts).
    const contains = filter.subContains ? { contains: filter.subContains, ...(provider === "postgresql" ? { mode: "insensitive" } : {}) } : undefined;
    const sub = contains || after !== undefined ? { ...contains, ...(after !== undefined ? { gt: after } : {}) } : undefined;
    return {
      ...(filter.channel ? { channel: filter.channel } : {}),
      ...(filter.seenBefore ? { lastSeenAt: { lt: filter.seenBefore } } : {}),
      ...(sub ? { sub: sub as { contains?: string; gt?: string } } : {}),
    };
  }

  /**
   * One upsert statement per batch of licensees, in raw SQL: the fleet can
   * report tens of thousands of new licensees at once, and a Prisma upsert
   * per row cost most of the server's CPU under that load (see
   * docs/performance.md). Both providers speak INSERT … ON CONFLICT.
   */
  async function recordMany(polls: PollSummary[]): Promise<void> {
    const statements: { sql: string; params: unknown[] }[] = [];
    for (let i = 0; i < polls.length; i += BATCH) {
      const chunk = polls.slice(i, i + BATCH);
      const params: unknown[] = [];
      const rows = chunk.map((p) => {
        const licenseExp = licenseExpMs(p);
        const values = [
          p.sub,
          p.channel,
          p.releaseId,
          p.releaseVersion,
          p.jti,
          licenseExp === null ? null : dateParam(provider, licenseExp),
          p.userAgent,
          dateParam(provider, requiredTime(p, "firstSeenAt")),
          dateParam(provider, requiredTime(p, "lastSeenAt")),
          p.polls,
          dateParam(provider, p.releaseSince === undefined ? requiredTime(p, "firstSeenAt") : requiredTime(p, "releaseSince")),
          p.previousReleaseId ?? null,
          p.previousReleaseVersion ?? null,
        ];
        const marks = values.map((v) => {
          params.push(v);
          return provider === "sqlite" ? "?" : `$${params.length}`;
        });
        return `(${marks.join(", ")})`;
      });
      const cols = COLUMNS.map((c) => `"${c}"`).join(", ");
      const updates = ["channel", "releaseId", "releaseVersion", "jti", "licenseExpiresAt", "userAgent", "lastSeenAt"].map((c) => `"${c}" = excluded."${c}"`);
      // Upgrade paths (src/services/upgrade-path.ts): the same release keeps its
      // earliest `since` (replicas record their own) and the release before it;
      // another release moves the stored one to `previous`. SET reads the old row.
      const same = `${TABLE}."releaseId" ${provider === "postgresql" ? "IS NOT DISTINCT FROM" : "IS"} excluded."releaseId"`;
      const earliest = provider === "postgresql" ? "LEAST" : "MIN";
      updates.push(
        `"releaseSince" = CASE WHEN ${same} THEN ${earliest}(COALESCE(${TABLE}."releaseSince", excluded."releaseSince"), excluded."releaseSince") ELSE excluded."releaseSince" END`,
        `"previousReleaseId" = CASE WHEN ${same} THEN ${TABLE}."previousReleaseId" ELSE ${TABLE}."releaseId" END`,
        `"previousReleaseVersion" = CASE WHEN ${same} THEN ${TABLE}."previousReleaseVersion" ELSE ${TABLE}."releaseVersion" END`,
      );
      const sql =
        `INSERT INTO ${TABLE} (${cols}) VALUES ${rows.join(", ")} ` +
        `ON CONFLICT ("sub") DO UPDATE SET ${updates.join(", ")}, "pollCount" = ${TABLE}."pollCount" + excluded."pollCount"`;
      statements.push({ sql, params });
    }
    if (bulk) return bulk.runAll(statements);
    for (const { sql, params } of statements) await db.$executeRawUnsafe(sql, ...params);
  }

  return {
    recordMany,
    async recordPolls(p: PollSummary): Promise<void> {
      await recordMany([p]);
    },
    /** Newest check-in first. */
    async list(filter: FleetFilter = {}) {
      return db.fleetEntry.findMany({ where: where(filter), orderBy: { lastSeenAt: "desc" } });
    },
    /**
     * One page by sub ascending (the primary key's order: stable, and the
     * cursor's `sub > last` walks the index), limit+1 rows for toPage.
     */
    async page(filter: FleetFilter, page: PageRequest) {
      const rows = await db.fleetEntry.findMany({ where: where(filter, cursorKey(page.cursor, "sub")), orderBy: { sub: "asc" }, take: page.limit + 1 });
      return toPage(rows, page.limit, (r) => r.sub);
    },
    /** One licensee's entry, or null. */
    async entryOf(sub: string) {
      return db.fleetEntry.findUnique({ where: { sub } });
    },
    /** Every licensee of a channel and the release it was last served (a rollout's counts). */
    async servedOn(channel: string): Promise<{ sub: string; releaseId: string | null }[]> {
      return db.fleetEntry.findMany({ where: { channel }, select: { sub: true, releaseId: true } });
    },
    /**
     * How many licensees were last served each release, per channel, counted
     * by the database (the metrics gauge asks at every scrape: never the rows).
     */
    async distribution(filter: FleetFilter = {}): Promise<FleetCount[]> {
      const rows = await db.fleetEntry.groupBy({ by: ["channel", "releaseVersion"], where: where(filter), _count: { _all: true } });
      return rows.map((r) => ({ channel: r.channel, releaseVersion: r.releaseVersion, licensees: r._count._all }));
    },
  };
}
export type FleetRepo = ReturnType<typeof fleetRepo>;
