// Admin routes of webhooks (docs/api.md §10): the rules live in
// src/services/webhook-service.ts, delivery in src/services/webhook-dispatcher.ts.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "@fastify/type-provider-zod";
import { z } from "zod";
import { line } from "../../domain/schemas.js";
import { WEBHOOK_EVENTS, WEBHOOK_FORMATS } from "../../domain/webhook-events.js";
import type { Context } from "../../context.js";
import { errorResponses } from "../openapi-shared.js";
import { SMALL_BODY, actorOf } from "./catalog-routes.js";
import { idPageQuery } from "./dto/paging.js";
import { deliveryPageDto, toDeliveryDto, toWebhookDto, webhookDto, webhookListDto } from "./dto/webhooks.js";

const security = [{ adminBearer: [] }];
const idParams = z.object({ id: line(64).describe("the webhook's id") });

export const webhookInputSchema = z.strictObject({
  url: line(2048).describe("http:// or https://, no credentials; with OUTBOUND_DENY_PRIVATE=true not on loopback, private or link-local addresses"),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length).optional().describe("default: every event"),
  secret: line(256, 16).describe("16–256 characters: the HMAC-SHA256 key of X-Chartroom-Signature; never shown again"),
  format: z.enum(WEBHOOK_FORMATS).optional().describe('"cloudevents" (default): a CloudEvents 1.0 JSON event; "slack": {text}, for a Slack-compatible incoming webhook'),
});

export async function webhookRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { webhooks } = ctx;

  r.post("/webhooks", {
    bodyLimit: SMALL_BODY,
    config: { role: "admin" },
    schema: {
      tags: ["webhooks"], security, summary: "Notify a URL of events (signed; retried for a day; in order per channel)",
      body: webhookInputSchema,
      response: { 201: webhookDto, ...errorResponses(400, 401, 403, 413, 503) },
    },
  }, async (req, reply) => {
    const w = await webhooks.create(req.body, actorOf(req));
    // The host only: a URL's path can be a secret of its own (Slack's incoming webhooks).
    req.log.info({ actor: req.user.sub, webhook: w.id, host: new URL(w.url).host, events: w.events, format: w.format, requestId: req.id }, "webhook created");
    reply.code(201);
    return toWebhookDto(w);
  });

  r.get("/webhooks", {
    config: { role: "admin" },
    schema: { tags: ["webhooks"], security, summary: "Every webhook (never its secret)", response: { 200: webhookListDto, ...errorResponses(401, 403) } },
  }, async () => ({ items: (await webhooks.list()).map(toWebhookDto) }));

  r.delete("/webhooks/:id", {
    config: { role: "admin" },
    schema: { tags: ["webhooks"], security, summary: "Remove a webhook: its pending deliveries are not sent", params: idParams, response: { 204: z.null(), ...errorResponses(400, 401, 403, 404) } },
  }, async (req, reply) => {
    await webhooks.remove(req.params.id, actorOf(req));
    req.log.info({ actor: req.user.sub, webhook: req.params.id, requestId: req.id }, "webhook removed");
    return reply.code(204).send(null);
  });

  r.get("/webhooks/:id/deliveries", {
    config: { role: "admin" },
    schema: {
      tags: ["webhooks"], security, summary: "The webhook's deliveries, newest first: event, attempts, last answer, next attempt",
      params: idParams, querystring: idPageQuery,
      response: { 200: deliveryPageDto, ...errorResponses(400, 401, 403, 404) },
    },
  }, async (req) => {
    const p = await webhooks.deliveries(req.params.id, req.query);
    return { items: p.items.map(toDeliveryDto), nextCursor: p.nextCursor };
  });
}
