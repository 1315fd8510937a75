// The outbox of notifications (docs/api.md §10): `add` is called inside the
// transaction of a change (a promotion, a rollout step, a revocation, …),
// so an event row exists if and only if its change committed. It writes the
// event and, in the same statement batch, one pending delivery per webhook
// subscribed to its type now (fan-out at write time: a webhook created
// later does not receive older events). With no subscriber nothing is
// written. The dispatcher (src/services/webhook-dispatcher.ts) sends them.
import { randomUUID } from "node:crypto";
import type { Db, Provider } from "../db/client.js";
import type { WebhookEventType } from "../domain/webhook-events.js";
import { dateParam } from "./fleet-repo.js";

export function outboxRepo(db: Pick<Db, "webhook" | "webhookEvent" | "$executeRawUnsafe">, provider: Provider) {
  return {
    /** Records an event of `type` about `subject`; answers its id, or undefined when no webhook wants it. */
    async add(type: WebhookEventType, subject: string, data: Record<string, unknown>): Promise<string | undefined> {
      // A plain read first: with no subscriber (most changes) nothing is written.
      const hooks = (await db.webhook.findMany({ select: { id: true, events: true } })).filter((h) => (h.events as string[]).includes(type));
      if (hooks.length === 0) return undefined;
      const time = new Date();
      const id = randomUUID();
      // JSON-safe (Dates become ISO strings), kept as text: every retry sends these bytes.
      const event = await db.webhookEvent.create({ data: { id, type, subject, data: JSON.stringify(data), time } });
      // The deliveries in one INSERT … SELECT of the webhooks subscribed at
      // this statement, not of the read above: a webhook deleted since (its
      // DELETE /webhooks/:id committed in between) simply drops out rather
      // than failing this change on its foreign key. On PostgreSQL the rows
      // are read FOR KEY SHARE: a delete still in flight is waited for, and
      // its webhook then skipped; one that starts later waits for this
      // transaction (and its cascade removes what this wrote).
      const pg = provider === "postgresql";
      // In the order of the statement's text (SQLite's ? are positional).
      const [seq, subj, at, created, kind] = pg ? ["$1", "$2", "$3::timestamp(3)", "$4::timestamp(3)", "$5"] : ["?", "?", "?", "?", "?"];
      const subscribed = pg ? `"events" @> jsonb_build_array(${kind}::text)` : `EXISTS (SELECT 1 FROM json_each("events") WHERE "value" = ${kind})`;
      await db.$executeRawUnsafe(
        `INSERT INTO "WebhookDelivery" ("webhookId", "eventSeq", "subject", "state", "nextAttemptAt", "attempts", "createdAt") ` +
          `SELECT "id", ${seq}, ${subj}, 'pending', ${at}, 0, ${created} FROM "Webhook" WHERE ${subscribed}${pg ? " FOR KEY SHARE" : ""}`,
        event.seq,
        subject,
        dateParam(provider, time.getTime()),
        dateParam(provider, time.getTime()),
        type,
      );
      return id;
    },
  };
}
export type OutboxRepo = ReturnType<typeof outboxRepo>;
