// The outbox of notifications (docs/api.md §10): `add` is called inside the
// transaction of a change (a promotion, a rollout step, a revocation, …),
// so an event row exists if and only if its change committed. It writes the
// event and, in the same statement batch, one pending delivery per webhook
// subscribed to its type now (fan-out at write time: a webhook created
// later does not receive older events). With no subscriber nothing is
// written. The dispatcher (src/services/webhook-dispatcher.ts) sends them.
import { randomUUID } from "node:crypto";
import type { Db } from "../db/client.js";
import type { WebhookEventType } from "../domain/webhook-events.js";

export function outboxRepo(db: Pick<Db, "webhook" | "webhookEvent" | "webhookDelivery">) {
  return {
    /** Records an event of `type` about `subject`; answers its id, or undefined when no webhook wants it. */
    async add(type: WebhookEventType, subject: string, data: Record<string, unknown>): Promise<string | undefined> {
      const hooks = (await db.webhook.findMany({ select: { id: true, events: true } })).filter((h) => (h.events as string[]).includes(type));
      if (hooks.length === 0) return undefined;
      const time = new Date();
      const id = randomUUID();
      // JSON-safe (Dates become ISO strings), kept as text: every retry sends these bytes.
      const event = await db.webhookEvent.create({ data: { id, type, subject, data: JSON.stringify(data), time } });
      await db.webhookDelivery.createMany({ data: hooks.map((h) => ({ webhookId: h.id, eventSeq: event.seq, subject, state: "pending", nextAttemptAt: time })) });
      return id;
    },
  };
}
export type OutboxRepo = ReturnType<typeof outboxRepo>;
