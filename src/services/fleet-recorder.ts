// Records who polls what without a database write per poll: polls are
// summed in memory per licensee and written at most once per `minIntervalMs`
// (default one minute) per licensee, by a periodic flush.
import type { Poll, PollSummary } from "../repositories/instances-repo.js";

export type { Poll };

export interface FleetRecorderOptions {
  /** Writes a batch of summaries (one statement per few hundred licensees). */
  write: (batch: PollSummary[]) => Promise<void>;
  minIntervalMs?: number;
  /** How often to look for summaries due for writing. */
  tickMs?: number;
  now?: () => number;
  onError?: (err: unknown, sub: string) => void;
}

export function fleetRecorder(opts: FleetRecorderOptions) {
  const minInterval = opts.minIntervalMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const pending = new Map<string, PollSummary>();
  const lastWrite = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let writes = 0;
  let flushing: Promise<void> | undefined;

  function record(p: Poll): void {
    const at = new Date(now());
    const prev = pending.get(p.sub);
    if (prev) {
      prev.channel = p.channel;
      prev.releaseId = p.releaseId;
      prev.releaseVersion = p.releaseVersion;
      prev.jti = p.jti;
      prev.licenseExp = p.licenseExp;
      prev.userAgent = p.userAgent;
      prev.lastSeenAt = at;
      prev.polls++;
    } else {
      pending.set(p.sub, { ...p, firstSeenAt: at, lastSeenAt: at, polls: 1 });
    }
  }

  /** Writes the summaries that are due (all of them with `all`). */
  async function flush(all = false): Promise<void> {
    if (flushing) await flushing;
    const t = now();
    const due = [...pending.values()].filter((p) => all || t - (lastWrite.get(p.sub) ?? -Infinity) >= minInterval);
    flushing = (async () => {
      for (const p of due) pending.delete(p.sub);
      for (let i = 0; i < due.length; i += 1000) {
        const batch = due.slice(i, i + 1000);
        try {
          await opts.write(batch);
          writes += batch.length;
          for (const p of batch) lastWrite.set(p.sub, t);
        } catch (err) {
          // Keep the polls for the next flush, merged with any newer ones.
          for (const p of batch) {
            const newer = pending.get(p.sub);
            pending.set(p.sub, newer ? { ...newer, firstSeenAt: p.firstSeenAt, polls: newer.polls + p.polls } : p);
          }
          opts.onError?.(err, batch.map((p) => p.sub).slice(0, 5).join(","));
        }
        // Let requests in between batches: a burst of new licensees must not stall polls.
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      await flushing;
    } finally {
      flushing = undefined;
    }
    // A licensee whose last write is older than the interval is written at its
    // next poll anyway: forget it, so this map stays bounded by recent pollers.
    for (const [sub, at] of lastWrite) if (t - at >= minInterval && !pending.has(sub)) lastWrite.delete(sub);
  }

  return {
    record,
    flush,
    start(): void {
      if (timer) return;
      timer = setInterval(() => void flush(), opts.tickMs ?? 5_000);
      timer.unref();
    },
    /** Stops the timer and writes everything still pending. */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush(true);
    },
    stats() {
      return { pending: pending.size, writes, remembered: lastWrite.size };
    },
  };
}
export type FleetRecorder = ReturnType<typeof fleetRecorder>;
