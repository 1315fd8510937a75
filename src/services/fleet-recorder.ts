// Records who polls what without a database write per poll: polls are
// summed in memory per licensee and written at most once per `minIntervalMs`
// (default one minute) per licensee, by a periodic flush.
//
// One bad row never fails a batch (issue 13): a batch the database refuses
// for any reason but being unavailable or busy is split in halves, and
// halves again, until the rows it cannot store are alone; those are given
// up (reported through `onRefused`) and every other row is written. An
// unavailable or busy database, or one that stores no row of the batch at
// all (it refuses everything, not a row), keeps the whole batch for the
// next flush.
import type { Poll, PollSummary } from "../repositories/fleet-repo.js";
import { internPool } from "../domain/intern.js";
import { DatabaseBusyError, DatabaseUnavailableError } from "../errors.js";

export type { Poll };

export interface FleetRecorderOptions {
  /** Writes a batch of summaries (one statement per few hundred licensees). */
  write: (batch: PollSummary[]) => Promise<void>;
  minIntervalMs?: number;
  /** How often to look for summaries due for writing. */
  tickMs?: number;
  now?: () => number;
  /** A batch not written, kept for the next flush (`subs`: the first few licensees). */
  onError?: (err: unknown, subs: string) => void;
  /** A licensee's summary the database refuses on its own: given up, never retried. */
  onRefused?: (err: unknown, summary: PollSummary) => void;
}

/**
 * Licensees per write: on SQLite a write is synchronous, so a batch is a
 * pause of the event loop (about 2 ms for 400 here); polls run in between.
 */
const BATCH = 400;
/** Distinct user agents remembered, so that 100,000 licensees share a few strings. */
const USER_AGENTS = 1_000;
/** The recorder's times stay below this (a small integer to V8: 2^31 is not). */
const REBASE_AFTER_MS = 2 ** 30;
/** `written` of an entry never written: far below any time (even after a rebase). */
const NEVER = -(2 ** 30);
/**
 * Writes one flush may spend isolating refused rows: enough to find a few
 * bad rows among 400 (about 2 log2(400) = 18 writes each); what is not
 * resolved within it waits for the next flush, so a systematic refusal
 * costs a few dozen statements per flush, not 800.
 */
const ISOLATION_WRITES = 64;

/** The database cannot take any write now: worth retrying the whole batch later. */
function isTransient(err: unknown): boolean {
  return err instanceof DatabaseUnavailableError || err instanceof DatabaseBusyError;
}

/** What writing one batch came to. */
interface Outcome {
  written: PollSummary[];
  refused: { summary: PollSummary; err: unknown }[];
  /** Not written this time (unavailable database, every row refused, or the isolation budget spent): kept pending. */
  kept: PollSummary[];
}

/**
 * A licensee's polls not yet written (`polls`) and when it was last written.
 * Times are whole milliseconds since the recorder's epoch, not since 1970:
 * small integers that V8 stores inline. A timestamp, or any fraction (a
 * difference of two Date.now() values is a double to V8 unless floored),
 * makes V8 box all three fields of every entry: 48 bytes more per licensee
 * (docs/performance.md). The epoch moves forward every 2^30 ms (12 days) so
 * the values stay small.
 */
interface Entry extends Omit<Poll, "sub"> {
  /** When this replica first served `releaseId` without a change since (an upgrade path's soak). */
  since: number;
  /** What this replica served the licensee before `releaseId`, if it did (an upgrade path's installed version). */
  prevId: string | null;
  prevVersion: string | null;
  first: number;
  last: number;
  polls: number;
  /** NEVER: not written yet. */
  written: number;
}

export function fleetRecorder(opts: FleetRecorderOptions) {
  const minInterval = opts.minIntervalMs ?? 60_000;
  const clock = opts.now ?? Date.now;
  let epoch = clock();
  const now = () => Math.floor(clock() - epoch);
  // One entry per licensee polled or written within the interval: its
  // pending polls and its last write, in one object (one Map, not two).
  const entries = new Map<string, Entry>();
  let timer: NodeJS.Timeout | undefined;
  let writes = 0;
  let refusals = 0;
  let flushing: Promise<void> | undefined;

  const userAgent = internPool(USER_AGENTS);
  const intern = (ua: string | null): string | null => (ua === null ? null : userAgent(ua));

  function record(p: Poll): void {
    let at = now();
    // A clock stepped far forward: move the epoch now (no flush is using it),
    // before a large time makes V8 box this field in every entry.
    if (at >= REBASE_AFTER_MS && !flushing) {
      rebase();
      at = now();
    }
    const e = entries.get(p.sub);
    if (!e) {
      // Written out field by field: built with a spread (`{ ...p, … }`), every
      // entry got a hidden class of its own in V8, ~250 bytes more per licensee.
      // (`sub` is the key: not stored twice.)
      entries.set(p.sub, {
        channel: p.channel,
        releaseId: p.releaseId,
        releaseVersion: p.releaseVersion,
        jti: p.jti,
        licenseExp: p.licenseExp,
        userAgent: intern(p.userAgent),
        since: at,
        prevId: null,
        prevVersion: null,
        first: at,
        last: at,
        polls: 1,
        written: NEVER,
      });
      return;
    }
    e.channel = p.channel;
    if (e.releaseId !== p.releaseId) {
      e.since = at;
      e.prevId = e.releaseId;
      e.prevVersion = e.releaseVersion;
    }
    e.releaseId = p.releaseId;
    e.releaseVersion = p.releaseVersion;
    e.jti = p.jti;
    e.licenseExp = p.licenseExp;
    e.userAgent = intern(p.userAgent);
    if (e.polls === 0) e.first = at;
    e.last = at;
    e.polls++;
  }

  /** What is written for an entry: a copy, since the entry keeps changing. */
  function summaryOf(sub: string, e: Entry): PollSummary {
    return {
      sub,
      channel: e.channel,
      releaseId: e.releaseId,
      releaseVersion: e.releaseVersion,
      jti: e.jti,
      licenseExp: e.licenseExp,
      userAgent: e.userAgent,
      releaseSince: epoch + e.since,
      previousReleaseId: e.prevId,
      previousReleaseVersion: e.prevVersion,
      firstSeenAt: epoch + e.first,
      lastSeenAt: epoch + e.last,
      polls: e.polls,
    };
  }

  /** Writes the summaries that are due (all of them with `all`). */
  async function flush(all = false): Promise<void> {
    // One flush at a time: every waiter re-checks, so two waiters never
    // pick (and write) the same polls.
    while (flushing) await flushing;
    if (now() >= REBASE_AFTER_MS) rebase();
    const t = now();
    // The keys only: with 100,000 licensees due, pairs would be megabytes of garbage.
    const due: string[] = [];
    for (const [sub, e] of entries) if (e.polls > 0 && (all || e.written === NEVER || t - e.written >= minInterval)) due.push(sub);
    flushing = (async () => {
      const budget = { writes: ISOLATION_WRITES };
      for (let i = 0; i < due.length; i += BATCH) {
        const batch = due.slice(i, i + BATCH).map((sub) => summaryOf(sub, entries.get(sub)!));
        const outcome = await writeBatch(batch, budget);
        writes += outcome.written.length;
        // Polls that arrived during the write stay pending.
        for (const done of outcome.written) taken(done, t);
        for (const { summary, err } of outcome.refused) {
          refusals++;
          taken(summary, t);
          opts.onRefused?.(err, summary);
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
    // A licensee written longer ago than the interval and quiet since is
    // written at its next poll anyway: forget it, so the map stays bounded
    // by recent pollers.
    for (const [sub, e] of entries) if (e.polls === 0 && e.written !== NEVER && t - e.written >= minInterval) entries.delete(sub);
  }

  /** A summary written (or given up): its polls are off the entry, whatever arrived meanwhile stays. */
  function taken(summary: PollSummary, t: number): void {
    const e = entries.get(summary.sub);
    if (!e) return;
    e.polls = Math.max(0, e.polls - summary.polls);
    e.written = t;
  }

  /**
   * Writes a batch; when the database refuses it (not merely unavailable),
   * bisects it to write every row it takes and refuse only those it does
   * not. Rows not tried (an unavailable database, the budget spent) are
   * kept: the polls are written at the next flush.
   */
  async function writeBatch(batch: PollSummary[], budget: { writes: number }): Promise<Outcome> {
    const outcome: Outcome = { written: [], refused: [], kept: [] };
    const pending: { rows: PollSummary[]; err?: unknown }[] = [{ rows: batch }];
    let first = true;
    while (pending.length > 0) {
      const { rows, err: refusedAs } = pending.pop()!;
      if (refusedAs !== undefined && rows.length === 1) {
        outcome.refused.push({ summary: rows[0]!, err: refusedAs });
        continue;
      }
      if (refusedAs !== undefined) {
        // Depth first, the first half on top: each bad row costs about 2 log2(n) writes.
        const mid = rows.length >> 1;
        pending.push({ rows: rows.slice(mid) }, { rows: rows.slice(0, mid) });
        continue;
      }
      if (!first && budget.writes-- <= 0) {
        outcome.kept.push(...rows);
        continue;
      }
      first = false;
      try {
        await opts.write(rows);
        outcome.written.push(...rows);
      } catch (err) {
        if (isTransient(err)) {
          // Nothing more can be written now: this and every untried row wait.
          outcome.kept.push(...rows, ...pending.flatMap((p) => p.rows));
          pending.length = 0;
          opts.onError?.(err, rows.map((p) => p.sub).slice(0, 5).join(","));
          break;
        }
        pending.push({ rows, err });
      }
    }
    if (outcome.written.length === 0 && outcome.refused.length > 1) {
      // Not one row of the batch was stored: the database refuses everything
      // (a permission, a missing table), not a row. Keep the polls; they are
      // written once it takes them again.
      const { err } = outcome.refused[0]!;
      outcome.kept.push(...outcome.refused.map((r) => r.summary));
      outcome.refused = [];
      opts.onError?.(err, batch.map((p) => p.sub).slice(0, 5).join(","));
    }
    return outcome;
  }

  /**
   * Moves the epoch to now, so times stay small integers. Every entry is
   * recent (a licensee quiet for longer than the interval is dropped), so
   * no time goes far below zero. Runs between flushes, never during one.
   */
  function rebase(): void {
    const shift = now();
    epoch += shift;
    for (const e of entries.values()) {
      e.since -= shift;
      e.first -= shift;
      e.last -= shift;
      if (e.written !== NEVER) e.written -= shift;
    }
  }

  return {
    record,
    flush,
    /**
     * What this replica served the licensee last, and since when (ms since
     * 1970), while it remembers (until a minute after its last write):
     * the part of the fleet the database may not have yet (upgrade paths,
     * src/services/install-facts.ts).
     */
    recentOf(sub: string): { releaseId: string; releaseVersion: string; since: number; last: number; previous: { id: string; version: string } | null } | undefined {
      const e = entries.get(sub);
      if (!e || e.releaseId === null || e.releaseVersion === null) return undefined;
      const previous = e.prevId !== null && e.prevVersion !== null ? { id: e.prevId, version: e.prevVersion } : null;
      return { releaseId: e.releaseId, releaseVersion: e.releaseVersion, since: epoch + e.since, last: epoch + e.last, previous };
    },
    start(): void {
      if (timer) return;
      // A tick while a slow flush is still writing is skipped, not queued.
      timer = setInterval(() => {
        if (!flushing) void flush();
      }, opts.tickMs ?? 5_000);
      timer.unref();
    },
    /** Stops the timer and writes everything still pending. */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush(true);
    },
    stats() {
      let pending = 0;
      for (const e of entries.values()) if (e.polls > 0) pending++;
      return { pending, writes, refused: refusals, remembered: entries.size };
    },
  };
}
export type FleetRecorder = ReturnType<typeof fleetRecorder>;
