// The freeze (stop the line): one row, id "fleet", inserted by its migration.
// On PostgreSQL a promotion takes a shared transaction-level advisory lock
// before it reads the row, and a freeze or lift takes the same lock
// exclusively before it writes: the two are serialized. A freeze waits for
// the promotions already in flight (they commit before it); a promotion
// that asks after a freeze began waits for its commit and then reads it.
// The lock manager queues fairly: a stream of promotions cannot starve a
// freeze (row locks FOR SHARE could: a new share locker never waits for a
// waiting updater). On SQLite every write transaction is serialized already.
import type { Db, Provider } from "../db/client.js";

export interface FreezeRow {
  frozen: boolean;
  reason: string | null;
  until: Date | null;
  frozenBy: string | null;
  frozenAt: Date | null;
}

const ID = "fleet";
/** Next to the advisory lock keys of src/db/migrate.ts (7243117001, 7243117002). */
export const FREEZE_LOCK_KEY = 7_243_117_003;
const NONE: FreezeRow = { frozen: false, reason: null, until: null, frozenBy: null, frozenAt: null };

export function freezeRepo(db: Pick<Db, "freeze" | "$executeRawUnsafe">, provider: Provider) {
  return {
    /**
     * The row as stored. `lock` (in a transaction, PostgreSQL; held until
     * it ends): "share" for a promotion (promotions do not wait for each
     * other), "update" for a change of the freeze itself.
     */
    async read(lock?: "share" | "update"): Promise<FreezeRow> {
      if (lock && provider === "postgresql") {
        await db.$executeRawUnsafe(`SELECT ${lock === "share" ? "pg_advisory_xact_lock_shared" : "pg_advisory_xact_lock"}(${FREEZE_LOCK_KEY})`);
      }
      const row = await db.freeze.findUnique({ where: { id: ID } });
      return row ? { frozen: row.frozen, reason: row.reason, until: row.until, frozenBy: row.frozenBy, frozenAt: row.frozenAt } : NONE;
    },
    async write(row: FreezeRow): Promise<void> {
      await db.freeze.upsert({ where: { id: ID }, create: { id: ID, ...row }, update: row });
    },
  };
}
export type FreezeRepo = ReturnType<typeof freezeRepo>;
