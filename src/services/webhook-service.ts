// Webhooks (docs/api.md §10), admin role: create, list, remove, and each
// one's delivery log. The secret is stored (every delivery is signed with
// it) and never answered or logged; creating and removing are audited
// without it, and with the URL's origin only (src/domain/audited-url.ts). Events are written by the outbox (src/repositories/outbox-repo.ts)
// and sent by src/services/webhook-dispatcher.ts.
import { randomUUID } from "node:crypto";
import { WebhookNotFoundError, fieldError } from "../errors.js";
import { WEBHOOK_EVENTS, type WebhookEventType, type WebhookFormat } from "../domain/webhook-events.js";
import type { Page, PageRequest } from "../repositories/paging.js";
import type { Store } from "../repositories/store.js";
import type { Delivery, Webhook } from "../repositories/webhooks-repo.js";
import type { Actor } from "./catalog-service.js";
import { outboundUrlProblem } from "./outbound-url.js";
import { auditedUrl } from "../domain/audited-url.js";

export interface WebhookInput {
  url: string;
  events?: WebhookEventType[] | undefined;
  secret: string;
  format?: WebhookFormat | undefined;
}

/** A webhook as the API and the audit log show it: never its secret. */
export type WebhookView = Omit<Webhook, "secret">;

function view({ secret: _secret, ...w }: Webhook): WebhookView {
  return w;
}

export function webhookService(store: Pick<Store, "transaction" | "webhooks">, opts: { denyPrivate: boolean }) {
  async function webhookOrThrow(id: string): Promise<Webhook> {
    const w = await store.webhooks.findById(id);
    if (!w) throw new WebhookNotFoundError(id);
    return w;
  }

  return {
    async create(input: WebhookInput, actor: Actor): Promise<WebhookView> {
      const problem = outboundUrlProblem(input.url, opts.denyPrivate);
      if (problem) throw fieldError("url", problem);
      // The contract's order, each once: a subscription reads the same however it was written.
      const events = input.events ? WEBHOOK_EVENTS.filter((e) => input.events!.includes(e)) : [...WEBHOOK_EVENTS];
      if (events.length === 0) throw fieldError("events", "must name at least one event (omit it for all of them)");
      return store.transaction(async (repos) => {
        const w = await repos.webhooks.create({ id: randomUUID(), url: input.url, events, secret: input.secret, format: input.format ?? "cloudevents", createdBy: actor.sub });
        await repos.audit.add({ actor: actor.sub, action: "webhook.create", targetType: "webhook", target: w.id, after: { url: auditedUrl(w.url), events: w.events, format: w.format }, requestId: actor.requestId });
        return view(w);
      });
    },

    async list(): Promise<WebhookView[]> {
      return (await store.webhooks.list()).map(view);
    },

    /** Removes the webhook; its pending deliveries are never sent, its delivery log goes with it. */
    async remove(id: string, actor: Actor): Promise<void> {
      await store.transaction(async (repos) => {
        const w = await repos.webhooks.findById(id);
        if (!w || !(await repos.webhooks.remove(id))) throw new WebhookNotFoundError(id);
        await repos.audit.add({ actor: actor.sub, action: "webhook.delete", targetType: "webhook", target: id, before: { url: auditedUrl(w.url), events: w.events, format: w.format }, requestId: actor.requestId });
      });
    },

    async deliveries(id: string, page: PageRequest): Promise<Page<Delivery>> {
      await webhookOrThrow(id);
      return store.webhooks.deliveries(id, page);
    },
  };
}
export type WebhookService = ReturnType<typeof webhookService>;
