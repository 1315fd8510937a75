// The freeze (stop the line, docs/api.md §7): while it is on, promotions
// are refused with 423 FROZEN on every replica; rollbacks, yanks and
// revocations go on. Nothing about it is cached: every promotion reads the
// freeze row in its own transaction (src/repositories/freeze-repo.ts), so
// every replica obeys from the freeze's commit, and GET /freeze reads the
// database. A freeze with `until` ends by itself then: from that moment it
// reads as lifted (nothing is written when it lapses).
import { FrozenError, NotFrozenError, fieldError } from "../errors.js";
import type { FreezeRow } from "../repositories/freeze-repo.js";
import type { Repos, Store } from "../repositories/store.js";
import type { Actor } from "./catalog-service.js";
import { subjectOf } from "../domain/webhook-events.js";

/** The freeze as the API shows it. */
export interface FreezeState {
  frozen: boolean;
  reason: string | null;
  /** When it ends by itself (null: when lifted). */
  until: Date | null;
  since: Date | null;
  by: string | null;
}

const LIFTED: FreezeState = { frozen: false, reason: null, until: null, since: null, by: null };

/** Whether the stored freeze is in force at `now`: one past its `until` is not. */
export function freezeAt(row: FreezeRow, now: Date): FreezeState {
  if (!row.frozen || (row.until !== null && row.until.getTime() <= now.getTime())) return LIFTED;
  return { frozen: true, reason: row.reason, until: row.until, since: row.frozenAt, by: row.frozenBy };
}

/** The 423 for `doing` ("promoting beta to 0.61.0") under the freeze `f`. */
export function frozenError(f: FreezeState, doing: string): InstanceType<typeof FrozenError> {
  const who = `${f.by ?? "an admin"}${f.since ? ` since ${f.since.toISOString()}` : ""}`;
  const ends = f.until ? `it ends by itself at ${f.until.toISOString()} or when lifted` : "until an admin lifts it (DELETE /api/v1/admin/freeze, chartroom freeze off)";
  return new FrozenError(`${doing} refused: promotions are frozen (stop the line) by ${who}: ${f.reason ?? "no reason given"}; ${ends}`);
}

/**
 * Throws 423 FROZEN when a freeze is in force. Call it inside the
 * promotion's transaction, before its commit: the read takes the freeze
 * lock shared (src/repositories/freeze-repo.ts), so a freeze that began
 * first is seen, and one that begins later waits for this transaction.
 */
export async function refuseIfFrozen(repos: Pick<Repos, "freeze">, doing: string, now = new Date(), lock: "share" | undefined = "share"): Promise<void> {
  const f = freezeAt(await repos.freeze.read(lock), now);
  if (f.frozen) throw frozenError(f, doing);
}

function audited(f: FreezeState) {
  return { frozen: f.frozen, reason: f.reason, until: f.until?.toISOString() ?? null };
}

export function freezeService(store: Pick<Store, "transaction" | "freeze">, opts: { now?: () => Date } = {}) {
  const now = opts.now ?? (() => new Date());
  return {
    async status(): Promise<FreezeState> {
      return freezeAt(await store.freeze.read(), now());
    },

    /** Freezes promotions (or changes the reason and `until` of the freeze in force). */
    async freeze(input: { reason: string; until?: string | undefined }, actor: Actor): Promise<FreezeState> {
      const at = now();
      const until = input.until === undefined ? null : new Date(input.until);
      if (until && until.getTime() <= at.getTime()) throw fieldError("until", `must be in the future (it is ${until.toISOString()}, the server's time is ${at.toISOString()})`);
      return store.transaction(async (repos) => {
        // The exclusive lock first: it waits for the promotions in flight, and holds off those that come after.
        const before = freezeAt(await repos.freeze.read("update"), at);
        const row: FreezeRow = { frozen: true, reason: input.reason, until, frozenBy: actor.sub, frozenAt: before.frozen ? before.since : at };
        await repos.freeze.write(row);
        const after = freezeAt(row, at);
        await repos.audit.add({ actor: actor.sub, action: "freeze.on", targetType: "freeze", target: "promotions", before: audited(before), after: audited(after), requestId: actor.requestId });
        await repos.outbox.add("freeze.changed", subjectOf.freeze(), { ...audited(after), by: actor.sub });
        return after;
      });
    },

    /** Lifts the freeze in force; 409 NOT_FROZEN when there is none. */
    async lift(input: { reason: string }, actor: Actor): Promise<FreezeState> {
      const at = now();
      return store.transaction(async (repos) => {
        const stored = await repos.freeze.read("update");
        const before = freezeAt(stored, at);
        if (!before.frozen) {
          throw new NotFrozenError(
            stored.frozen && stored.until ? `promotions are not frozen: the freeze ended by itself at ${stored.until.toISOString()}` : "promotions are not frozen; nothing to lift",
          );
        }
        await repos.freeze.write({ frozen: false, reason: null, until: null, frozenBy: null, frozenAt: null });
        await repos.audit.add({ actor: actor.sub, action: "freeze.off", targetType: "freeze", target: "promotions", before: audited(before), after: { ...audited(LIFTED), reason: input.reason }, requestId: actor.requestId });
        await repos.outbox.add("freeze.changed", subjectOf.freeze(), { ...audited(LIFTED), reason: input.reason, by: actor.sub });
        return LIFTED;
      });
    },
  };
}
export type FreezeService = ReturnType<typeof freezeService>;
