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

/**
 * Licensees per write: on SQLite a write is synchronous, so a batch is a
 * pause of the event loop (about 2 ms for 400 here); polls run in between.
 */
const BATCH = 400;
/** Distinct user agents remembered, so that 100,000 licensees share a few strings. */
const USER_AGENTS = 1_000;

export function fleetRecorder(opts: FleetRecorderOptions) {
  const minInterval = opts.minIntervalMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const pending = new Map<string, PollSummary>();
  const lastWrite = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let writes = 0;
  let flushing: Promise<void> | undefined;

  const userAgents = new Map<string, string>();
  function intern(ua: string | null): string | null {
    if (ua === null) return null;
    const known = userAgents.get(ua);
    if (known !== undefined) return known;
    if (userAgents.size < USER_AGENTS) userAgents.set(ua, ua);
    return ua;
  }

  /**
   * A new summary, written out field by field: built with a spread
   * (`{ ...p, … }`) every summary got a hidden class of its own in V8, about
   * 250 bytes more per licensee (docs/performance.md).
   */
  function summary(p: Poll, at: number, polls: number, firstSeenAt = at): PollSummary {
    return {
      sub: p.sub,
      channel: p.channel,
      releaseId: p.releaseId,
      releaseVersion: p.releaseVersion,
      jti: p.jti,
      licenseExp: p.licenseExp,
      userAgent: intern(p.userAgent),
      firstSeenAt,
      lastSeenAt: at,
      polls,
    };
  }

  function record(p: Poll): void {
    const at = now();
    const prev = pending.get(p.sub);
    if (prev) {
      prev.channel = p.channel;
      prev.releaseId = p.releaseId;
      prev.releaseVersion = p.releaseVersion;
      prev.jti = p.jti;
      prev.licenseExp = p.licenseExp;
      prev.userAgent = intern(p.userAgent);
      prev.lastSeenAt = at;
      prev.polls++;
    } else {
      pending.set(p.sub, summary(p, at, 1));
    }
  }

  /** Writes the summaries that are due (all of them with `all`). */
  async function flush(all = false): Promise<void> {
    if (flushing) await flushing;
    const t = now();
    const due = [...pending.values()].filter((p) => all || t - (lastWrite.get(p.sub) ?? -Infinity) >= minInterval);
    flushing = (async () => {
      for (const p of due) pending.delete(p.sub);
      for (let i = 0; i < due.length; i += BATCH) {
        const batch = due.slice(i, i + BATCH);
        try {
          await opts.write(batch);
          writes += batch.length;
          for (const p of batch) lastWrite.set(p.sub, t);
        } catch (err) {
          // Keep the polls for the next flush, merged with any newer ones.
          for (const p of batch) {
            const newer = pending.get(p.sub);
            pending.set(p.sub, newer ? summary(newer, newer.lastSeenAt, newer.polls + p.polls, p.firstSeenAt) : p);
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
