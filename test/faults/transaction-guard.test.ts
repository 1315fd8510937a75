// The transaction guard (src/db/transaction-guard.ts), driven at the
// adapter level as Prisma drives it: COMMIT as a statement, then commit()
// only if it succeeded. On SQLite a COMMIT that fails must release the
// adapter's transaction mutex (without the guard the next transaction waits
// forever; here the COMMIT fails with SQLITE_BUSY, which needs no root, the
// disk-full case is in sqlite-disk.test.ts). On PostgreSQL a COMMIT that
// times out on a server that stopped answering must hand its connection
// back to the pool as broken (without the guard every such failure takes
// one connection of the pool for good).
import t, { type Test } from "tap";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import Database from "better-sqlite3";
import { join } from "node:path";
import type pg from "pg";
import { freshDatabase, pgUnavailableReason, tempDir } from "../helpers/db.js";
import { freezableProxy } from "../helpers/freezable-proxy.js";
import { guardTransactions } from "../../src/db/transaction-guard.js";

const noPg = await pgUnavailableReason();
if (noPg) {
  if (process.env.CI) t.fail(`PostgreSQL is required in CI: ${noPg}`);
  else t.comment(`*** skipped: no PostgreSQL (${noPg}) — the transaction guard test needs it ***`);
}

const statement = (sql: string) => ({ sql, args: [], argTypes: [] });

/** Runs a transaction whose COMMIT meets a frozen server; answers the pool's counts afterwards. */
async function commitWhileFrozen(t: Test, guarded: boolean) {
  const url = await freshDatabase(t, "postgresql");
  const { hostname, port } = new URL(url);
  const proxy = await freezableProxy({ host: hostname, port: Number(port || 5432) });
  t.teardown(() => proxy.close());
  const proxied = Object.assign(new URL(url), { hostname: "127.0.0.1", port: String(proxy.port) }).toString();
  const factory = new PrismaPg({ connectionString: proxied, max: 2, connectionTimeoutMillis: 1000, query_timeout: 1000 });
  const adapter = await (guarded ? guardTransactions(factory) : factory).connect();
  t.teardown(() => adapter.dispose());
  const pool = (adapter as unknown as { underlyingDriver(): pg.Pool }).underlyingDriver();
  const tx = await adapter.startTransaction();
  await tx.executeRaw(statement("SELECT 1"));
  proxy.freeze();
  const started = performance.now();
  const failed = await tx.executeRaw(statement("COMMIT")).then(() => undefined, (err: unknown) => err);
  t.comment(`COMMIT on a frozen server failed after ${Math.round(performance.now() - started)} ms`);
  t.ok(failed, "the COMMIT fails (query_timeout)");
  proxy.thaw();
  await new Promise((r) => setTimeout(r, 200));
  const counts = { total: pool.totalCount, idle: pool.idleCount };
  // A connection still checked out would make the pool's end() (teardown) wait forever.
  try {
    (tx as unknown as { client: pg.PoolClient }).client.release(true);
  } catch {
    // released already (the guard did)
  }
  return counts;
}

t.test("without the guard the adapter keeps the connection of a failed COMMIT (the upstream bug)", { skip: noPg ?? false }, async (t) => {
  const { total, idle } = await commitWhileFrozen(t, false);
  t.same({ total, idle }, { total: 1, idle: 0 }, "one connection still checked out by a transaction that is over");
});

t.test("with the guard the pool closes it and has all its connections again", { skip: noPg ?? false }, async (t) => {
  const { total, idle } = await commitWhileFrozen(t, true);
  t.same({ total, idle }, { total: 0, idle: 0 }, "the broken connection was closed, none is held");
});

/** A COMMIT refused with SQLITE_BUSY (a reader holds the file in rollback-journal mode); then: does the next transaction start within 2 s? */
async function nextStartsAfterBusyCommit(t: Test, guarded: boolean): Promise<boolean> {
  const file = join(tempDir(t), "busy.db");
  const setup = new Database(file);
  setup.exec('CREATE TABLE "Row" ("v" INTEGER)');
  setup.close();
  const factory = new PrismaBetterSQLite3({ url: `file:${file}`, timeout: 50 });
  const adapter = await (guarded ? guardTransactions(factory) : factory).connect();
  t.teardown(() => adapter.dispose());
  const reader = new Database(file);
  t.teardown(() => reader.close());
  const tx = await adapter.startTransaction();
  await tx.executeRaw(statement('INSERT INTO "Row" ("v") VALUES (1)'));
  reader.exec("BEGIN");
  reader.prepare('SELECT count(*) FROM "Row"').get();
  const failed = await tx.executeRaw(statement("COMMIT")).then(() => undefined, (err: unknown) => err);
  t.match(failed, { cause: { originalCode: "SQLITE_BUSY" } }, "the COMMIT is refused: another connection reads the file");
  reader.exec("ROLLBACK");
  let timer: NodeJS.Timeout | undefined;
  const next = await Promise.race([
    adapter.startTransaction().then(async (tx2) => {
      await tx2.executeRaw(statement("ROLLBACK"));
      await tx2.rollback();
      return true;
    }),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 2000))),
  ]);
  clearTimeout(timer);
  return next;
}

t.test("SQLite without the guard: after a refused COMMIT the next transaction never starts (the upstream bug)", async (t) => {
  t.equal(await nextStartsAfterBusyCommit(t, false), false, "still waiting for the mutex after 2 s");
});

t.test("SQLite with the guard: the next transaction starts at once", async (t) => {
  t.equal(await nextStartsAfterBusyCommit(t, true), true);
});
