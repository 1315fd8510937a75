import type { Db } from "../db/client.js";

/** What one licensee's polls since the last flush add up to. */
export interface PollSummary {
  sub: string;
  channel: string;
  releaseId: string | null;
  releaseVersion: string | null;
  jti: string | null;
  userAgent: string | null;
  firstSeenAt: Date;
  lastSeenAt: Date;
  polls: number;
}

export function instancesRepo(db: Pick<Db, "instance">) {
  return {
    async recordPolls(p: PollSummary): Promise<void> {
      const latest = { channel: p.channel, releaseId: p.releaseId, releaseVersion: p.releaseVersion, jti: p.jti, userAgent: p.userAgent, lastSeenAt: p.lastSeenAt };
      await db.instance.upsert({
        where: { sub: p.sub },
        create: { sub: p.sub, ...latest, firstSeenAt: p.firstSeenAt, pollCount: p.polls },
        update: { ...latest, pollCount: { increment: p.polls } },
      });
    },
    async list() {
      return db.instance.findMany({ orderBy: { lastSeenAt: "desc" } });
    },
  };
}
export type InstancesRepo = ReturnType<typeof instancesRepo>;
