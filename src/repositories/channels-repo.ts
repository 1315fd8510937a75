import { asJson, type Db } from "../db/client.js";
import type { Channel, ChannelPolicy } from "../domain/schemas.js";
import type { Values } from "../domain/values.js";

type Row = Awaited<ReturnType<Db["channel"]["findFirstOrThrow"]>>;

function toChannel(r: Row): Channel {
  return { ...r, defaultValues: r.defaultValues as Values, policy: (r.policy ?? {}) as ChannelPolicy };
}

export function channelsRepo(db: Pick<Db, "channel">) {
  return {
    async list(): Promise<Channel[]> {
      return (await db.channel.findMany({ orderBy: { name: "asc" } })).map(toChannel);
    },
    async findById(id: string): Promise<Channel | null> {
      const row = await db.channel.findUnique({ where: { id } });
      return row ? toChannel(row) : null;
    },
    async findByName(name: string): Promise<Channel | null> {
      const row = await db.channel.findUnique({ where: { name } });
      return row ? toChannel(row) : null;
    },
    async create(c: { id: string; name: string; description: string; defaultValues: Values; policy?: ChannelPolicy }): Promise<Channel> {
      // A channel from before policies has NULL: read as {} (toChannel).
      return toChannel(await db.channel.create({ data: { ...c, defaultValues: asJson(c.defaultValues), policy: asJson(c.policy ?? {}) } }));
    },
    async update(id: string, patch: { description?: string; defaultValues?: Values; policy?: ChannelPolicy }): Promise<Channel> {
      return toChannel(
        await db.channel.update({
          where: { id },
          data: {
            ...(patch.description !== undefined ? { description: patch.description } : {}),
            ...(patch.defaultValues !== undefined ? { defaultValues: asJson(patch.defaultValues) } : {}),
            ...(patch.policy !== undefined ? { policy: asJson(patch.policy) } : {}),
            rowVersion: { increment: 1 },
          },
        }),
      );
    },
    /**
     * Moves the channel to a release if its row version is still the one
     * read (optimistic concurrency). Returns false when another writer won.
     */
    async setRelease(id: string, releaseId: string, expectedRowVersion: number): Promise<boolean> {
      const { count } = await db.channel.updateMany({
        where: { id, rowVersion: expectedRowVersion },
        data: { releaseId, rowVersion: { increment: 1 } },
      });
      return count === 1;
    },
    /**
     * Bumps the row version if it is still the one read: a change of the
     * channel's rollout takes the channel this way, so that of two writers
     * that read the same version only one goes on. False when another won.
     */
    async touch(id: string, expectedRowVersion: number): Promise<boolean> {
      const { count } = await db.channel.updateMany({ where: { id, rowVersion: expectedRowVersion }, data: { rowVersion: { increment: 1 } } });
      return count === 1;
    },
  };
}
export type ChannelsRepo = ReturnType<typeof channelsRepo>;
