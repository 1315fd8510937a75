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

/** `s` as a LIKE pattern with `ESCAPE '\'` that matches every sub containing it: its own % _ \ match themselves. */
export function containsPattern(s: string): string {
  return `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Subs per `IN (…)` list when reading the rows a search found. */
const SUBS_PER_QUERY = 500;

export function fleetRepo(db: Pick<Db, "fleetEntry" | "$executeRawUnsafe" | "$queryRawUnsafe">, provider: Provider, bulk?: BulkWriter) {
  /** The filter without a search, for Prisma (a search is raw SQL: rawWhere). */
  function where(filter: FleetFilter, after?: string) {
    return {
      ...(filter.channel ? { channel: filter.channel } : {}),
      ...(filter.seenBefore ? { lastSeenAt: { lt: filter.seenBefore } } : {}),
      ...(after !== undefined ? { sub: { gt: after } } : {}),
    };
  }

  /**
   * The filter as SQL, for a search: Prisma's `contains` hands % and _ to
   * LIKE as wildcards and cannot write the ESCAPE clause SQLite's LIKE needs
   * to match them (or \) literally. SQLite's LIKE folds ASCII case;
   * PostgreSQL's ILIKE folds case as Prisma's `mode: "insensitive"` did.
   */
  function rawWhere(filter: FleetFilter, after?: string): { sql: string; params: unknown[] } {
    const params: unknown[] = [];
    const mark = (v: unknown) => {
      params.push(v);
      return provider === "sqlite" ? "?" : `$${params.length}`;
    };
    const conds: string[] = [];
    if (filter.channel) conds.push(`"channel" = ${mark(filter.channel)}`);
    if (filter.seenBefore) {
      const at = mark(dateParam(provider, filter.seenBefore.getTime()));
      conds.push(`"lastSeenAt" < ${provider === "postgresql" ? `CAST(${at} AS timestamp(3))` : at}`);
    }
    if (filter.subContains) conds.push(`"sub" ${provider === "postgresql" ? "ILIKE" : "LIKE"} ${mark(containsPattern(filter.subContains))} ESCAPE '\\'`);
    if (after !== undefined) conds.push(`"sub" > ${mark(after)}`);
    return { sql: conds.length ? ` WHERE ${conds.join(" AND ")}` : "", params };
  }

  /** The entries of these subs, in their order (a search's rows, read by Prisma). */
  async function entriesOf(subs: string[]) {
    const rows = [];
    for (let i = 0; i < subs.length; i += SUBS_PER_QUERY) rows.push(...(await db.fleetEntry.findMany({ where: { sub: { in: subs.slice(i, i + SUBS_PER_QUERY) } } })));
    const bySub = new Map(rows.map((r) => [r.sub, r]));
    return subs.map((s) => bySub.get(s)).filter((r) => r !== undefined);
  }

  /** The subs a search finds, in `order`, at most `limit`. */
  async function searched(filter: FleetFilter, order: string, limit?: number, after?: string): Promise<string[]> {
    const w = rawWhere(filter, after);
    const rows = await db.$queryRawUnsafe<{ sub: string }[]>(`SELECT "sub" FROM ${TABLE}${w.sql} ORDER BY ${order}${limit !== undefined ? ` LIMIT ${limit}` : ""}`, ...w.params);
    return rows.map((r) => r.sub);
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
      // A summary older than the stored one (another replica wrote a later poll first: each writes
      // at most once a minute) adds its polls but changes nothing else. SET reads the old row.
      const newer = `excluded."lastSeenAt" >= ${TABLE}."lastSeenAt"`;
      const updates = ["channel", "releaseId", "releaseVersion", "jti", "licenseExpiresAt", "userAgent", "lastSeenAt"].map((c) => `"${c}" = CASE WHEN ${newer} THEN excluded."${c}" ELSE ${TABLE}."${c}" END`);
      // Upgrade paths (src/services/upgrade-path.ts): the same release keeps its
      // earliest `since` (replicas record their own) and the release before it;
      // another release moves the stored one to `previous`. SET reads the old row.
      const same = `${TABLE}."releaseId" ${provider === "postgresql" ? "IS NOT DISTINCT FROM" : "IS"} excluded."releaseId"`;
      const earliest = provider === "postgresql" ? "LEAST" : "MIN";
      updates.push(
        `"releaseSince" = CASE WHEN ${same} THEN ${earliest}(COALESCE(${TABLE}."releaseSince", excluded."releaseSince"), excluded."releaseSince") WHEN ${newer} THEN excluded."releaseSince" ELSE ${TABLE}."releaseSince" END`,
        `"previousReleaseId" = CASE WHEN ${same} OR NOT (${newer}) THEN ${TABLE}."previousReleaseId" ELSE ${TABLE}."releaseId" END`,
        `"previousReleaseVersion" = CASE WHEN ${same} OR NOT (${newer}) THEN ${TABLE}."previousReleaseVersion" ELSE ${TABLE}."releaseVersion" END`,
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
      if (filter.subContains) return entriesOf(await searched(filter, `"lastSeenAt" DESC`));
      return db.fleetEntry.findMany({ where: where(filter), orderBy: { lastSeenAt: "desc" } });
    },
    /**
     * One page by sub ascending (the primary key's order: stable, and the
     * cursor's `sub > last` walks the index), limit+1 rows for toPage.
     */
    async page(filter: FleetFilter, page: PageRequest) {
      const after = cursorKey(page.cursor, "sub");
      const rows = filter.subContains
        ? await entriesOf(await searched(filter, `"sub" ASC`, page.limit + 1, after))
        : await db.fleetEntry.findMany({ where: where(filter, after), orderBy: { sub: "asc" }, take: page.limit + 1 });
      return toPage(rows, page.limit, (r) => r.sub);
    },
    /** One licensee's entry, or null when it never polled. */
    async find(sub: string) {
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
      if (filter.subContains) {
        const w = rawWhere(filter);
        const counted = await db.$queryRawUnsafe<{ channel: string; releaseVersion: string | null; n: number | bigint }[]>(
          `SELECT "channel", "releaseVersion", COUNT(*) AS n FROM ${TABLE}${w.sql} GROUP BY "channel", "releaseVersion"`,
          ...w.params,
        );
        return counted.map((r) => ({ channel: r.channel, releaseVersion: r.releaseVersion, licensees: Number(r.n) }));
      }
      const rows = await db.fleetEntry.groupBy({ by: ["channel", "releaseVersion"], where: where(filter), _count: { _all: true } });
      return rows.map((r) => ({ channel: r.channel, releaseVersion: r.releaseVersion, licensees: r._count._all }));
    },
  };
}
export type FleetRepo = ReturnType<typeof fleetRepo>;
