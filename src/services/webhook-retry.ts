// When a failed webhook delivery is tried again (docs/api.md §10): an
// exponential back-off with jitter, for a day, then given up. Pure, with
// its table in test/services/webhook-retry.test.ts.

export interface RetryPolicy {
  /** The back-off after the first failure; each further one doubles it. */
  baseMs: number;
  /** The longest back-off. */
  maxMs: number;
  /** How long after its event a delivery is still tried (a day). */
  giveUpMs: number;
}

/**
 * The next attempt after the `attempts`-th failure (1 for the first) of a
 * delivery created at `createdAt`, or null: given up. The back-off is
 * min(max, base·2^(attempts−1)), of which a random half is taken off
 * ("equal jitter": receivers that failed together do not retry together).
 * The last attempt is at the end of the day, never after it.
 */
export function nextAttemptAt(p: RetryPolicy, attempts: number, createdAt: Date, now: Date, random: () => number = Math.random): Date | null {
  const end = createdAt.getTime() + p.giveUpMs;
  if (now.getTime() >= end) return null;
  const backoff = Math.min(p.maxMs, p.baseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 40));
  const delay = backoff / 2 + (backoff / 2) * random();
  return new Date(Math.min(now.getTime() + delay, end));
}

/**
 * Which pending deliveries may be sent now, in order per subject: for each
 * webhook and subject only the oldest pending one (event N+1 of a channel
 * waits until N is acknowledged or given up), and only once it is due and
 * not leased to a dispatcher that is sending it.
 */
export function dueHeads<T extends { webhookId: string; subject: string; nextAttemptAt: Date; leaseUntil: Date | null }>(queue: T[], now: Date): T[] {
  const seen = new Set<string>();
  const due: T[] = [];
  for (const d of queue) {
    const key = `${d.webhookId}\u0000${d.subject}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (d.nextAttemptAt.getTime() <= now.getTime() && (d.leaseUntil === null || d.leaseUntil.getTime() <= now.getTime())) due.push(d);
  }
  return due;
}
