// Webhooks and their deliveries (docs/api.md §10). The outbox writes
// events and pending deliveries (src/repositories/outbox-repo.ts); the
// dispatcher (src/services/webhook-dispatcher.ts) claims due ones here,
// sends them and records each attempt.
import { randomUUID } from "node:crypto";
import type { Db, Provider } from "../db/client.js";
import type { StoredEvent, WebhookEventType, WebhookFormat } from "../domain/webhook-events.js";
import { dateParam } from "./fleet-repo.js";
import { cursorId, toPage, type Page, type PageRequest } from "./paging.js";

export interface Webhook {
  id: string;
  url: string;
  events: WebhookEventType[];
  /** The HMAC key: read by the dispatcher only, never answered by the API. */
  secret: string;
  format: WebhookFormat;
  createdBy: string;
  createdAt: Date;
}

export type DeliveryState = "pending" | "delivered" | "failed";

/** A delivery as the delivery log shows it. */
export interface Delivery {
  id: number;
  webhookId: string;
  eventId: string;
  type: string;
  subject: string;
  state: DeliveryState;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/** What the dispatcher orders pending deliveries by. */
export interface QueuedDelivery {
  id: number;
  webhookId: string;
  subject: string;
  eventSeq: number;
  nextAttemptAt: Date;
  leaseUntil: Date | null;
}

/** A claimed delivery with what sending it needs. */
export interface ClaimedDelivery {
  id: number;
  /** The claim's random token: markDelivered and markFailed change the delivery only while it is still this claim's. */
  claim: string;
  attempts: number;
  createdAt: Date;
  webhook: Webhook;
  event: StoredEvent;
}

/**
 * The dispatcher's claim lock: pg_try_advisory_xact_lock(bigint), next to
 * the one-key locks of src/db/migrate.ts (7243117001, 7243117002) and
 * src/repositories/freeze-repo.ts (7243117003); the two-key locks of
 * src/repositories/rollouts-repo.ts are another namespace.
 */
export const WEBHOOK_DISPATCH_LOCK_KEY = 7_243_117_004;

type WebhookRow = Awaited<ReturnType<Db["webhook"]["findFirstOrThrow"]>>;

function toWebhook(r: WebhookRow): Webhook {
  return { id: r.id, url: r.url, events: r.events as WebhookEventType[], secret: r.secret, format: r.format as WebhookFormat, createdBy: r.createdBy, createdAt: r.createdAt };
}

export function webhooksRepo(db: Pick<Db, "webhook" | "webhookDelivery" | "webhookEvent" | "$queryRawUnsafe">, provider: Provider) {
  return {
    async create(w: Omit<Webhook, "createdAt">): Promise<Webhook> {
      return toWebhook(await db.webhook.create({ data: { ...w, events: [...w.events] } }));
    },
    /** Oldest first. */
    async list(): Promise<Webhook[]> {
      return (await db.webhook.findMany({ orderBy: [{ createdAt: "asc" }, { id: "asc" }] })).map(toWebhook);
    },
    async findById(id: string): Promise<Webhook | null> {
      const row = await db.webhook.findUnique({ where: { id } });
      return row ? toWebhook(row) : null;
    },
    /** Removes the webhook and its delivery log; false if there was none. */
    async remove(id: string): Promise<boolean> {
      await db.webhookDelivery.deleteMany({ where: { webhookId: id } });
      const { count } = await db.webhook.deleteMany({ where: { id } });
      return count > 0;
    },
    /** The webhook's deliveries, newest first. */
    async deliveries(webhookId: string, page: PageRequest): Promise<Page<Delivery>> {
      const before = cursorId(page.cursor);
      const rows = await db.webhookDelivery.findMany({
        where: { webhookId, ...(before !== undefined ? { id: { lt: before } } : {}) },
        orderBy: { id: "desc" },
        take: page.limit + 1,
        include: { event: { select: { id: true, type: true } } },
      });
      const items = rows.map((r): Delivery => ({
        id: r.id,
        webhookId: r.webhookId,
        eventId: r.event.id,
        type: r.event.type,
        subject: r.subject,
        state: r.state as DeliveryState,
        attempts: r.attempts,
        lastStatus: r.lastStatus,
        lastError: r.lastError,
        nextAttemptAt: r.state === "pending" ? r.nextAttemptAt : null,
        deliveredAt: r.deliveredAt,
        createdAt: r.createdAt,
      }));
      return toPage(items, page.limit, (d) => d.id);
    },

    /**
     * In a transaction: takes the dispatcher's claim lock if no other
     * transaction holds it (PostgreSQL; held until it ends), so one replica
     * claims at a time. SQLite serializes write transactions: always true.
     */
    async tryLockDispatch(): Promise<boolean> {
      if (provider !== "postgresql") return true;
      const rows = await db.$queryRawUnsafe<{ locked: boolean }[]>(`SELECT pg_try_advisory_xact_lock(${WEBHOOK_DISPATCH_LOCK_KEY}) AS locked`);
      return rows[0]?.locked === true;
    },
    /**
     * The due heads, in event order, at most `limit`: per webhook and
     * subject the oldest pending delivery (event N+1 waits for N), kept
     * when due at `now` and not leased, all of it chosen by the database
     * over every pending delivery, so a webhook with a long backlog
     * backing off never hides another's (the same rule as dueHeads of
     * src/services/webhook-retry.ts, which the dispatcher applies again).
     */
    async pendingQueue(now: Date, limit: number): Promise<QueuedDelivery[]> {
      const pg = provider === "postgresql";
      const at = pg ? "$1::timestamp(3)" : "?";
      const at2 = pg ? "$2::timestamp(3)" : "?";
      const heads = await db.$queryRawUnsafe<{ id: number }[]>(
        `SELECT d."id" FROM "WebhookDelivery" d WHERE d."state" = 'pending' ` +
          `AND d."nextAttemptAt" <= ${at} AND (d."leaseUntil" IS NULL OR d."leaseUntil" <= ${at2}) ` +
          `AND NOT EXISTS (SELECT 1 FROM "WebhookDelivery" e WHERE e."webhookId" = d."webhookId" AND e."subject" = d."subject" AND e."state" = 'pending' ` +
          `AND (e."eventSeq" < d."eventSeq" OR (e."eventSeq" = d."eventSeq" AND e."id" < d."id"))) ` +
          `ORDER BY d."eventSeq", d."id" LIMIT ${Math.max(1, Math.floor(limit))}`,
        dateParam(provider, now.getTime()),
        dateParam(provider, now.getTime()),
      );
      if (heads.length === 0) return [];
      return db.webhookDelivery.findMany({
        where: { id: { in: heads.map((h) => Number(h.id)) } },
        orderBy: [{ eventSeq: "asc" }, { id: "asc" }],
        select: { id: true, webhookId: true, subject: true, eventSeq: true, nextAttemptAt: true, leaseUntil: true },
      });
    },
    /**
     * Leases those of `ids` that are still pending and not leased at `now`
     * to this dispatcher until `until`; answers them with their webhook and
     * event. (Guarded twice: under the claim lock, and by the lease itself,
     * for SQLite files that several cluster workers share.)
     */
    async claim(ids: number[], now: Date, until: Date): Promise<ClaimedDelivery[]> {
      if (ids.length === 0) return [];
      const claim = randomUUID();
      await db.webhookDelivery.updateMany({ where: { id: { in: ids }, state: "pending", OR: [{ leaseUntil: null }, { leaseUntil: { lte: now } }] }, data: { leaseUntil: until, claimToken: claim } });
      const rows = await db.webhookDelivery.findMany({ where: { id: { in: ids }, state: "pending", claimToken: claim }, orderBy: { eventSeq: "asc" }, include: { webhook: true, event: true } });
      return rows.map((r) => ({
        id: r.id,
        claim,
        attempts: r.attempts,
        createdAt: r.createdAt,
        webhook: toWebhook(r.webhook),
        event: { id: r.event.id, type: r.event.type, subject: r.event.subject, data: r.event.data, time: r.event.time },
      }));
    },
    /**
     * Acknowledged (2xx): never sent again. Only by the holder of `claim`
     * (a sender whose lease was claimed again by another changes nothing);
     * false when nothing changed.
     */
    async markDelivered(id: number, claim: string, status: number, at: Date): Promise<boolean> {
      const { count } = await db.webhookDelivery.updateMany({
        where: { id, state: "pending", claimToken: claim },
        data: { state: "delivered", attempts: { increment: 1 }, lastStatus: status, lastError: null, deliveredAt: at, leaseUntil: null, claimToken: null },
      });
      return count > 0;
    },
    /** A failed attempt: tried again at `next`, or given up (state failed) when `next` is null. Only by the holder of `claim`. */
    async markFailed(id: number, claim: string, f: { status: number | null; error: string; next: Date | null }): Promise<boolean> {
      const { count } = await db.webhookDelivery.updateMany({
        where: { id, state: "pending", claimToken: claim },
        data: { attempts: { increment: 1 }, lastStatus: f.status, lastError: f.error, leaseUntil: null, claimToken: null, ...(f.next ? { nextAttemptAt: f.next } : { state: "failed" }) },
      });
      return count > 0;
    },
    /** Forgets delivered and failed deliveries created before `before`, then the events no delivery refers to any more. */
    async prune(before: Date): Promise<number> {
      const { count } = await db.webhookDelivery.deleteMany({ where: { state: { in: ["delivered", "failed"] }, createdAt: { lt: before } } });
      await db.webhookEvent.deleteMany({ where: { time: { lt: before }, deliveries: { none: {} } } });
      return count;
    },
    async pendingCount(): Promise<number> {
      return db.webhookDelivery.count({ where: { state: "pending" } });
    },
  };
}
export type WebhooksRepo = ReturnType<typeof webhooksRepo>;
