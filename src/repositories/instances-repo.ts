import type { Db } from "../db/client.js";

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

/** What one licensee's polls since the last flush add up to. */
export interface PollSummary extends Poll {
  firstSeenAt: Date;
  lastSeenAt: Date;
  polls: number;
}

export function instancesRepo(db: Pick<Db, "instance">) {
  return {
    async recordPolls(p: PollSummary): Promise<void> {
      const latest = {
        channel: p.channel,
        releaseId: p.releaseId,
        releaseVersion: p.releaseVersion,
        jti: p.jti,
        licenseExpiresAt: p.licenseExp !== null ? new Date(p.licenseExp * 1000) : null,
        userAgent: p.userAgent,
        lastSeenAt: p.lastSeenAt,
      };
      await db.instance.upsert({
        where: { sub: p.sub },
        create: { sub: p.sub, ...latest, firstSeenAt: p.firstSeenAt, pollCount: p.polls },
        update: { ...latest, pollCount: { increment: p.polls } },
      });
    },
    /** Newest check-in first; optionally one channel, or only those silent since `seenBefore`. */
    async list(filter: { channel?: string | undefined; seenBefore?: Date | undefined } = {}) {
      return db.instance.findMany({
        where: {
          ...(filter.channel ? { channel: filter.channel } : {}),
          ...(filter.seenBefore ? { lastSeenAt: { lt: filter.seenBefore } } : {}),
        },
        orderBy: { lastSeenAt: "desc" },
      });
    },
    /** How many licensees were last served each release, per channel. */
    async distribution(): Promise<{ channel: string; releaseVersion: string | null; count: number }[]> {
      const rows = await db.instance.groupBy({ by: ["channel", "releaseVersion"], _count: { _all: true } });
      return rows.map((r) => ({ channel: r.channel, releaseVersion: r.releaseVersion, count: r._count._all }));
    },
  };
}
export type InstancesRepo = ReturnType<typeof instancesRepo>;
