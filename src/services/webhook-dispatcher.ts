// Delivers the outbox (docs/api.md §10) on every replica's timer, with one
// replica claiming at a time:
//
// 1. Claim, in one short transaction: on PostgreSQL it first takes the
//    dispatcher's advisory lock without waiting (src/repositories/webhooks-repo.ts;
//    a replica that does not get it skips this tick), has the database
//    choose, among all pending deliveries, for each webhook and subject
//    only the oldest (in order per channel: event N+1 waits until N is
//    acknowledged or given up, src/services/webhook-retry.ts) when it is
//    due, and leases those to itself for LEASE_MS.
// 2. Send, outside any transaction: POST with a 5 s deadline, the body
//    signed (X-Chartroom-Signature).
// 3. Record each answer before anything else, as the holder of the claim
//    (its random token: a sender whose lease expired and was claimed again
//    changes nothing): a 2xx marks the delivery delivered (tried a few
//    times over a short database error, well within the lease), and
//    nothing sends a delivered one again; any other answer
//    or none schedules the next attempt with back-off, or gives up after a
//    day (state failed).
//
// At least once until acknowledged: a replica that dies (or loses the
// database) between its POST and step 3 leaves the lease to expire, and
// the delivery is sent again, with the same event id, which receivers use
// to drop the duplicate. Once step 3 recorded a 2xx it is never sent again.
import type { Store } from "../repositories/store.js";
import type { ClaimedDelivery } from "../repositories/webhooks-repo.js";
import { renderBody, signature } from "../domain/webhook-events.js";
import { dueHeads, nextAttemptAt, type RetryPolicy } from "./webhook-retry.js";
import { postWebhook, type WebhookSender } from "./webhook-sender.js";
import { ticker } from "./ticker.js";

/** How long a claimed delivery is left alone by other dispatchers: well beyond a send's deadline. */
export const LEASE_MS = 60_000;
/** A send's deadline. */
export const SEND_TIMEOUT_MS = 5000;
/** Deliveries sent per tick at most. */
const BATCH = 50;
/**
 * How often an acknowledgement is recorded before giving up, with a back-off
 * from MARK_BACKOFF_MS doubling: 0.2+0.4+0.8+1.6 s, well within LEASE_MS.
 */
export const MARK_ATTEMPTS = 5;
const MARK_BACKOFF_MS = 200;
/** A stored error message is cut to this length. */
const MAX_ERROR = 500;
/** The delivery log keeps delivered and failed deliveries this long; pruned about once an hour. */
export const KEEP_MS = 30 * 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

export type DeliveryOutcome = "delivered" | "retry" | "failed";

export interface DeliveryFailure {
  webhook: string;
  /** The receiver's host only: a URL's path can be a secret of its own (Slack's incoming webhooks). */
  host: string;
  event: string;
  type: string;
  attempts: number;
  status: number | null;
  error: string;
  gaveUp: boolean;
}

export interface WebhookDispatcherOptions {
  store: Pick<Store, "transaction" | "webhooks">;
  retry: RetryPolicy;
  /** The CloudEvents `source`. */
  source: string;
  denyPrivate: boolean;
  intervalMs?: number;
  timeoutMs?: number;
  send?: WebhookSender;
  onOutcome?: (outcome: DeliveryOutcome) => void;
  onFailure?: (f: DeliveryFailure) => void;
  onError?: (err: unknown) => void;
  /** A 2xx that could not be recorded after MARK_ATTEMPTS: the delivery will be sent again after its lease. */
  onUnrecorded?: (u: UnrecordedAck) => void;
  /** Overrides MARK_BACKOFF_MS (tests). */
  markBackoffMs?: number;
  now?: () => Date;
}

export interface UnrecordedAck {
  webhook: string;
  host: string;
  event: string;
  type: string;
  status: number;
  error: string;
}

export function webhookDispatcher(opts: WebhookDispatcherOptions) {
  const now = opts.now ?? (() => new Date());
  const send = opts.send ?? postWebhook;
  const timeoutMs = opts.timeoutMs ?? SEND_TIMEOUT_MS;
  const markBackoffMs = opts.markBackoffMs ?? MARK_BACKOFF_MS;

  async function claim(): Promise<ClaimedDelivery[]> {
    // A plain read first: with nothing due (most ticks) no transaction, no lock.
    const first = now();
    if (dueHeads(await opts.store.webhooks.pendingQueue(first, BATCH), first).length === 0) return [];
    return opts.store.transaction(async (repos) => {
      if (!(await repos.webhooks.tryLockDispatch())) return [];
      const at = now();
      const due = dueHeads(await repos.webhooks.pendingQueue(at, BATCH), at).slice(0, BATCH);
      // A lease end of its own (to the millisecond): what this claim leased, and nothing another leased.
      const until = new Date(at.getTime() + LEASE_MS + Math.floor(Math.random() * 1000));
      return repos.webhooks.claim(due.map((d) => d.id), at, until);
    }, { attempts: 1 });
  }

  /**
   * Records an acknowledgement, tried MARK_ATTEMPTS times (a short database
   * error must not lead to a resend once the lease ends); if it still
   * fails, told loudly (onUnrecorded): the receiver will get it again.
   */
  async function recordDelivered(d: ClaimedDelivery, status: number): Promise<void> {
    let last: unknown;
    for (let attempt = 1; attempt <= MARK_ATTEMPTS; attempt++) {
      try {
        await opts.store.webhooks.markDelivered(d.id, d.claim, status, now());
        opts.onOutcome?.("delivered");
        return;
      } catch (err) {
        last = err;
        if (attempt < MARK_ATTEMPTS) await new Promise((r) => setTimeout(r, markBackoffMs * 2 ** (attempt - 1)));
      }
    }
    opts.onUnrecorded?.({ webhook: d.webhook.id, host: new URL(d.webhook.url).host, event: d.event.id, type: d.event.type, status, error: ((last as Error)?.message || String(last)).slice(0, MAX_ERROR) });
  }

  async function deliver(d: ClaimedDelivery): Promise<void> {
    const body = renderBody(d.event, d.webhook.format, opts.source);
    const headers = {
      "content-type": d.webhook.format === "slack" ? "application/json" : "application/cloudevents+json; charset=utf-8",
      "user-agent": "chartroom-webhooks",
      "x-chartroom-signature": signature(body, d.webhook.secret),
      "x-chartroom-event": d.event.type,
      "x-chartroom-delivery": String(d.id),
    };
    let status: number | null = null;
    let error: string;
    try {
      status = await send(d.webhook.url, body, headers, { timeoutMs, denyPrivate: opts.denyPrivate });
      if (status >= 200 && status < 300) {
        await recordDelivered(d, status);
        return;
      }
      error = `HTTP ${status}`;
    } catch (err) {
      error = ((err as Error).message || String(err)).slice(0, MAX_ERROR);
    }
    const next = nextAttemptAt(opts.retry, d.attempts + 1, d.createdAt, now());
    await opts.store.webhooks.markFailed(d.id, d.claim, { status, error, next });
    opts.onOutcome?.(next ? "retry" : "failed");
    opts.onFailure?.({ webhook: d.webhook.id, host: new URL(d.webhook.url).host, event: d.event.id, type: d.event.type, attempts: d.attempts + 1, status, error, gaveUp: next === null });
  }

  let prunedAt = 0;

  async function tick(): Promise<void> {
    const at = now();
    if (at.getTime() - prunedAt >= PRUNE_EVERY_MS) {
      prunedAt = at.getTime();
      // Idempotent: every replica may prune; only finished deliveries older than KEEP_MS go.
      await opts.store.webhooks.prune(new Date(at.getTime() - KEEP_MS)).catch((err: unknown) => opts.onError?.(err));
    }
    const claimed = await claim();
    const results = await Promise.allSettled(claimed.map(deliver));
    for (const r of results) if (r.status === "rejected") opts.onError?.(r.reason);
  }

  // The loop: one tick at a time; stop() waits for the sends in flight (each ends within its deadline).
  return ticker(tick, { intervalMs: opts.intervalMs ?? 1000, onError: opts.onError });
}
export type WebhookDispatcher = ReturnType<typeof webhookDispatcher>;
