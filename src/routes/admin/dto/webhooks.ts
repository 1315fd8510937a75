// Webhooks and their delivery log as the admin API answers them (docs/api.md §10): never a secret.
import { z } from "zod";
import { WEBHOOK_EVENTS, WEBHOOK_FORMATS } from "../../../domain/webhook-events.js";
import type { Delivery } from "../../../repositories/webhooks-repo.js";
import type { WebhookView } from "../../../services/webhook-service.js";
import { page } from "./paging.js";

export const webhookDto = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  format: z.enum(WEBHOOK_FORMATS),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type WebhookDto = z.infer<typeof webhookDto>;

export const webhookListDto = z.object({ items: z.array(webhookDto) });

export const deliveryDto = z.object({
  id: z.number().int(),
  eventId: z.string().describe("the CloudEvents id: the same on every attempt"),
  type: z.string().describe("the event, e.g. rollout.started"),
  subject: z.string().describe("what it is about: channels/<name>, releases/<version>, licenses/<jti>, freeze"),
  state: z.enum(["pending", "delivered", "failed"]).describe("failed: given up after a day of retries"),
  attempts: z.number().int(),
  lastStatus: z.number().int().nullable().describe("the HTTP status of the last attempt (null: no answer)"),
  lastError: z.string().nullable(),
  nextAttemptAt: z.string().nullable().describe("when it is tried next (null unless pending)"),
  deliveredAt: z.string().nullable(),
  createdAt: z.string(),
});
export type DeliveryDto = z.infer<typeof deliveryDto>;
export const deliveryPageDto = page(deliveryDto);
export type DeliveryPageDto = z.infer<typeof deliveryPageDto>;

export function toWebhookDto(w: WebhookView): WebhookDto {
  return { id: w.id, url: w.url, events: w.events, format: w.format, createdBy: w.createdBy, createdAt: w.createdAt.toISOString() };
}

export function toDeliveryDto(d: Delivery): DeliveryDto {
  return {
    id: d.id,
    eventId: d.eventId,
    type: d.type,
    subject: d.subject,
    state: d.state,
    attempts: d.attempts,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
    createdAt: d.createdAt.toISOString(),
  };
}
