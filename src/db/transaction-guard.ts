// A guard around the driver adapters' transactions (issue 13). Prisma's
// transaction manager ends a transaction in two steps: it runs COMMIT (or
// ROLLBACK) as a statement on the transaction, and only when that statement
// succeeded it calls the adapter's commit() (or rollback()), which releases
// what the transaction holds. When the statement itself fails, the second
// step never happens (Prisma issue 29933, https://github.com/prisma/orm/issues/29933):
// - @prisma/adapter-better-sqlite3 serialises transactions with a mutex that
//   only commit()/rollback() release. A COMMIT refused by a full disk
//   (SQLITE_FULL: the pages of a large write reach the WAL file at commit),
//   a read-only file or another writer (SQLITE_BUSY) fails, and so does a
//   ROLLBACK after SQLite rolled the transaction back itself ("no
//   transaction is active"). The mutex stays locked and every later
//   transaction waits for it forever; Prisma's maxWait is checked only after
//   that wait ends, so it never fires. Reads, which take no mutex, go on.
// - @prisma/adapter-pg returns the connection to the pool only in
//   commit()/rollback(): a COMMIT or ROLLBACK that timed out on a hung
//   server leaks one of the pool's connections each time.
// The guard finishes the job when the statement fails: on SQLite it rolls
// back what SQLite left open and releases the mutex; on PostgreSQL it hands
// the connection back to the pool as broken (the pool closes it). The
// statement's error still reaches the caller, except a ROLLBACK of a
// transaction that is already gone, which has done what was asked.
import type { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";

/** A driver adapter factory (both adapters' factories have this shape; the types come from the SQLite one). */
type Factory = Pick<PrismaBetterSQLite3, "adapterName" | "connect"> & { provider: string };
type Adapter = Awaited<ReturnType<Factory["connect"]>>;
type Transaction = Awaited<ReturnType<Adapter["startTransaction"]>>;
type Query = Parameters<Transaction["executeRaw"]>[0];

/** better-sqlite3's connection, as the SQLite adapter and its transactions hold it (`client`). */
interface SqliteConnection {
  inTransaction: boolean;
  exec(sql: string): unknown;
}
/** pg's pool client, as the PostgreSQL adapter's transactions hold it (`client`, `cleanup`). */
interface PgTransactionParts {
  client?: { release(err?: Error | boolean): void };
  cleanup?: () => void;
}

function endStatement(query: Query): "COMMIT" | "ROLLBACK" | undefined {
  const sql = query.sql.trim().toUpperCase();
  return sql === "COMMIT" || sql === "ROLLBACK" ? sql : undefined;
}

/** The transaction, its COMMIT/ROLLBACK failures made to release what it holds. */
function guarded(tx: Transaction, provider: string, connection: SqliteConnection | undefined): Transaction {
  // With phantom queries the adapter runs COMMIT/ROLLBACK inside commit()/rollback() itself.
  if (tx.options.usePhantomQuery) return tx;
  const executeRaw = tx.executeRaw.bind(tx);
  const release = { commit: tx.commit.bind(tx), rollback: tx.rollback.bind(tx) };
  let released = false;
  const once = (fn: () => Promise<void>) => async () => {
    if (released) return;
    released = true;
    await fn();
  };
  tx.commit = once(release.commit);
  tx.rollback = once(release.rollback);
  tx.executeRaw = async (query) => {
    const end = endStatement(query);
    if (!end) return executeRaw(query);
    try {
      return await executeRaw(query);
    } catch (err) {
      if (provider === "sqlite" && connection) {
        // What SQLite left open (a COMMIT refused by SQLITE_BUSY keeps the transaction) goes now.
        if (connection.inTransaction) {
          try {
            connection.exec("ROLLBACK");
          } catch {
            // still open: the next BEGIN on this connection will say so
          }
        }
        // Read before the lock is released: a waiting transaction may BEGIN on this connection at once.
        const gone = !connection.inTransaction;
        await tx.rollback();
        if (end === "ROLLBACK" && gone) return 0;
      } else if (!released) {
        released = true;
        const parts = tx as unknown as PgTransactionParts;
        parts.cleanup?.();
        parts.client?.release(err instanceof Error ? err : true);
      }
      throw err;
    }
  };
  return tx;
}

/** The adapter factory, every transaction of its adapters guarded (see the header). */
export function guardTransactions<F extends Factory>(factory: F): F {
  const connect = async (): Promise<Adapter> => {
    const adapter = await factory.connect();
    const startTransaction = adapter.startTransaction.bind(adapter);
    const connection = (adapter as unknown as { client?: SqliteConnection }).client;
    adapter.startTransaction = async (isolationLevel) => guarded(await startTransaction(isolationLevel), factory.provider, connection);
    return adapter;
  };
  // The factory's own fields are private (#config): its methods run on the factory itself.
  return new Proxy(factory, {
    get(target, key) {
      if (key === "connect") return connect;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
