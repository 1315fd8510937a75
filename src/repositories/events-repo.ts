import type { Db } from "../db/client.js";
import { cursorId, toPage, type Page, type PageRequest } from "./paging.js";

/**
 * A change of what the channel serves. `rollout-step`: a step of a rollout
 * began (to: its target); it does not move the channel's release, so it
 * neither counts as holding the release (everHeld) nor enters the
 * rollback stack (src/services/promotion-rules.ts).
 */
export type ChannelAction = "promote" | "rollback" | "declare" | "rollout-step";

export interface ChannelEvent {
  id: number;
  channelId: string;
  action: string;
  fromReleaseId: string | null;
  toReleaseId: string | null;
  actor: string;
  reason: string | null;
  requestId: string | null;
  createdAt: Date;
}

export interface NewChannelEvent {
  channelId: string;
  action: ChannelAction;
  fromReleaseId: string | null;
  toReleaseId: string | null;
  actor: string;
  reason?: string | null | undefined;
  requestId?: string | null | undefined;
}

export function eventsRepo(db: Pick<Db, "channelEvent">) {
  return {
    async add(e: NewChannelEvent): Promise<ChannelEvent> {
      return db.channelEvent.create({ data: { ...e, reason: e.reason ?? null, requestId: e.requestId ?? null } });
    },
    /** Newest first. */
    async list(channelId: string, page: PageRequest): Promise<Page<ChannelEvent>> {
      const before = cursorId(page.cursor);
      const rows = await db.channelEvent.findMany({
        where: { channelId, ...(before !== undefined ? { id: { lt: before } } : {}) },
        orderBy: { id: "desc" },
        take: page.limit + 1,
      });
      return toPage(rows, page.limit, (e) => e.id);
    },
    /** Oldest first: the whole history of one channel (for rollback). */
    async allOf(channelId: string): Promise<ChannelEvent[]> {
      return db.channelEvent.findMany({ where: { channelId }, orderBy: { id: "asc" } });
    },
    /** The releases that have been the channel's release (rollout steps aside), each once. */
    async heldReleaseIds(channelId: string): Promise<string[]> {
      const rows = await db.channelEvent.findMany({ where: { channelId, toReleaseId: { not: null }, action: { not: "rollout-step" } }, select: { toReleaseId: true }, distinct: ["toReleaseId"] });
      return rows.map((r) => r.toReleaseId!);
    },
    /**
     * When the channel's release became this one (its newest move to it; a
     * rollout's step does not move it, its completion does): what a
     * downstream channel's minSoak counts from. Null when no move to it is
     * recorded.
     */
    async heldSince(channelId: string, releaseId: string): Promise<Date | null> {
      const row = await db.channelEvent.findFirst({ where: { channelId, toReleaseId: releaseId, action: { not: "rollout-step" } }, orderBy: { id: "desc" }, select: { createdAt: true } });
      return row?.createdAt ?? null;
    },
    /** Whether the release was ever the release of one of these channels. */
    async everHeld(channelId: string, releaseId: string): Promise<boolean> {
      return (await db.channelEvent.count({ where: { channelId, toReleaseId: releaseId, action: { not: "rollout-step" } } })) > 0;
    },
  };
}
export type EventsRepo = ReturnType<typeof eventsRepo>;
