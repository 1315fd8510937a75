// The store: every repository over one Prisma client, and transactions
// that hand the same repositories bound to the transaction. Services get a
// Store (or a narrow Pick of it) and never see Prisma: whatever it hands
// out throws catalogue errors, never driver errors (database-errors.ts).
import Database from "better-sqlite3";
import { createDb, sqlitePath, type Db, type Provider, providerOf } from "../db/client.js";
import { DATABASE_TIMEOUTS } from "../db/timeouts.js";
import { DatabaseBusyError } from "../errors.js";
import { classifyDatabaseError, toCatalogueError, translated, translating, type ErrorObserver } from "./database-errors.js";
import { auditRepo } from "./audit-repo.js";
import { channelsRepo } from "./channels-repo.js";
import { eventsRepo } from "./events-repo.js";
import { fleetRepo, type BulkWriter } from "./fleet-repo.js";
import { freezeRepo } from "./freeze-repo.js";
import { licensesRepo } from "./licenses-repo.js";
import { releasesRepo } from "./releases-repo.js";
import { reportsRepo } from "./reports-repo.js";
import { rolloutsRepo } from "./rollouts-repo.js";
import { outboxRepo } from "./outbox-repo.js";
import { webhooksRepo } from "./webhooks-repo.js";
import { stateRepo } from "./state-repo.js";

type Tx = Parameters<Parameters<Db["$transaction"]>[0]>[0];

function reposOver(db: Db | Tx, provider: Provider, observe?: ErrorObserver) {
  return {
    channels: translated(channelsRepo(db), observe),
    releases: translated(releasesRepo(db), observe),
    events: translated(eventsRepo(db), observe),
    audit: translated(auditRepo(db), observe),
    licenses: translated(licensesRepo(db), observe),
    fleet: translated(fleetRepo(db, provider), observe),
    state: translated(stateRepo(db, provider), observe),
    freeze: translated(freezeRepo(db, provider), observe),
    rollouts: translated(rolloutsRepo(db, provider), observe),
    reports: translated(reportsRepo(db, provider), observe),

    /** Notifications, in the changing transaction: `repos.outbox.add(type, subject, data)`. */
    outbox: translated(outboxRepo(db, provider), observe),
    webhooks: translated(webhooksRepo(db, provider), observe),
  };
}
export type Repos = ReturnType<typeof reposOver>;

export interface Store extends Repos {
  provider: Provider;
  /**
   * Runs `fn` in one transaction. A serialization failure, deadlock or busy
   * database is retried up to `attempts` times with jittered backoff, then
   * surfaces as DatabaseBusyError (503 DATABASE_BUSY).
   */
  transaction<T>(fn: (repos: Repos) => Promise<T>, opts?: { attempts?: number }): Promise<T>;
  ping(): Promise<void>;
  /**
   * The error of the last write the database refused (a full disk, a
   * read-only file or server), or undefined once probeWrite() succeeded
   * since. (A committed transaction proves nothing: it may have only read.)
   */
  writeRefused(): unknown;
  /** One real write (src/repositories/state-repo.ts, probeWrite): clears writeRefused() when it succeeds. */
  probeWrite(): Promise<void>;
  /** Reads a SQLite pragma of the store's own connection (diagnostics, tests). */
  pragma(name: string): Promise<unknown>;
  appliedMigrations(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * SQLite page cache per connection, in KiB: SQLite's own default. The
 * better-sqlite3 build raises it to 16 MB per connection, and with the
 * fleet table of 100,000 licensees each connection filled its cache:
 * about 30 MB of resident memory for data the OS caches anyway
 * (docs/performance.md, Memory).
 */
export const SQLITE_CACHE_KIB = 2000;

/** Tries of a fleet batch on a busy SQLite database: about half a second of waits in all (0.26–0.77 s, jittered). */
const BUSY_ATTEMPTS = 8;

/**
 * SQLite: a second connection for fleet telemetry. synchronous=NORMAL (WAL):
 * a commit is not fsynced until the next checkpoint, so a burst of new
 * licensees costs CPU, not a stalled event loop per statement; a power loss
 * may lose the last seconds of last-seen times, never a promotion (those
 * commit on the main connection with FULL). busy_timeout 0: the writes are
 * synchronous, so waiting for a lock held by this same process's other
 * connection could never end. A busy database (that connection in a
 * transaction, another cluster worker's flush, the CLI) is waited for
 * between attempts, with the event loop free; after the last attempt the
 * batch fails and the fleet recorder keeps it for the next flush.
 */
function sqliteBulkWriter(url: string): BulkWriter & { close(): void } {
  // Opened on first use: after the migrator has set the file's WAL mode.
  let conn: Database.Database | undefined;
  let closed = false;
  let runAll: Database.Transaction<(statements: { sql: string; params: unknown[] }[]) => void> | undefined;
  const prepared = new Map<string, Database.Statement>();
  function open() {
    const c = new Database(sqlitePath(url), { timeout: 0 });
    c.pragma("synchronous = NORMAL");
    c.pragma(`cache_size = -${SQLITE_CACHE_KIB}`);
    conn = c;
    return c.transaction((statements: { sql: string; params: unknown[] }[]) => {
      for (const { sql, params } of statements) {
        let st = prepared.get(sql);
        if (!st) prepared.set(sql, (st = c.prepare(sql)));
        st.run(...params);
      }
    });
  }
  return {
    async runAll(statements) {
      for (let attempt = 0; ; attempt++) {
        if (closed) throw new Error("the store is closed");
        runAll ??= open();
        try {
          runAll.immediate(statements);
          return;
        } catch (err) {
          if ((err as { code?: string }).code !== "SQLITE_BUSY" || attempt >= BUSY_ATTEMPTS - 1) throw err;
          await new Promise((r) => setTimeout(r, Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random())));
        }
      }
    },
    close() {
      closed = true;
      conn?.close();
      conn = undefined;
      runAll = undefined;
      prepared.clear();
    },
  };
}

export async function createStore(url: string, given?: Db): Promise<Store> {
  const db = given ?? (await createDb(url));
  const provider = providerOf(url);
  let bulk: ReturnType<typeof sqliteBulkWriter> | undefined;
  if (provider === "sqlite") {
    // FULL: a committed promotion survives a power loss, not only a crash of
    // the process (better-sqlite3 in WAL mode defaults to NORMAL). Issued
    // first, so it runs before any other statement on this connection.
    void db.$executeRawUnsafe("PRAGMA synchronous = FULL").catch(() => {});
    void db.$executeRawUnsafe(`PRAGMA cache_size = -${SQLITE_CACHE_KIB}`).catch(() => {});
    bulk = sqliteBulkWriter(url);
  }
  // Readiness and chartroom_database_up learn of refused writes from here
  // (docs/decisions.md): a database that answers reads but stores nothing.
  let refused: { error: unknown } | undefined;
  let probing: Promise<void> | undefined;
  const observe: ErrorObserver = (kind, error) => {
    if (kind === "write-refused") refused = { error };
  };
  const repos = reposOver(db, provider, observe);
  return {
    provider,
    ...repos,
    fleet: translated(fleetRepo(db, provider, bulk), observe),
    async transaction(fn, opts = {}) {
      const attempts = opts.attempts ?? 8;
      for (let i = 1; ; i++) {
        try {
          return await db.$transaction((tx) => fn(reposOver(tx, provider, observe)), { maxWait: DATABASE_TIMEOUTS.transactionMaxWaitMs, timeout: DATABASE_TIMEOUTS.transactionMs });
        } catch (err) {
          observe(classifyDatabaseError(err), err);
          const e = toCatalogueError(err);
          if (i >= attempts || !(e instanceof DatabaseBusyError)) throw e;
          await new Promise((r) => setTimeout(r, Math.min(200, 5 * 2 ** i) * (0.5 + Math.random())));
        }
      }
    },
    ping: () =>
      translating(async () => {
        await db.$queryRawUnsafe("SELECT 1");
      }),
    writeRefused: () => refused?.error,
    probeWrite() {
      // One probe at a time: /readyz checks and the state watcher share it.
      probing ??= (async () => {
        // A write refused while the probe ran is newer than the probe's answer: it stands.
        const seen = refused;
        await repos.state.probeWrite();
        if (refused === seen) refused = undefined;
      })().finally(() => (probing = undefined));
      return probing;
    },
    async pragma(name: string): Promise<unknown> {
      if (provider !== "sqlite" || !/^[a-z_]+$/.test(name)) throw new Error(`no such SQLite pragma: ${name}`);
      const rows = await translating(() => db.$queryRawUnsafe<Record<string, unknown>[]>(`PRAGMA ${name}`));
      return rows[0] ? Object.values(rows[0])[0] : undefined;
    },
    appliedMigrations: () =>
      translating(async () => {
        const rows = await db.$queryRawUnsafe<{ migration_name: string }[]>(
          `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
        );
        return rows.map((r) => r.migration_name);
      }),
    async close() {
      bulk?.close();
      await db.$disconnect();
    },
  };
}
