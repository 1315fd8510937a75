import t from "tap";
import pg from "pg";
import Database from "better-sqlite3";
import { migrate, readMigrations, MigrationChecksumError } from "../../src/db/migrate.js";
import { createStore } from "../../src/repositories/store.js";
import { eachProvider, freshDatabase } from "../helpers/db.js";

await eachProvider(t, "a fresh database comes up; a second start applies nothing", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  const all = readMigrations(provider).map((m) => m.name);
  t.ok(all.length >= 1);
  const first = await migrate(url);
  t.same(first.applied, all);
  const second = await migrate(url);
  t.same(second.applied, [], "nothing applied the second time");
  t.equal(second.alreadyApplied, all.length);
  const store = await createStore(url);
  t.teardown(() => store.close());
  t.same((await store.appliedMigrations()).sort(), all, "recorded in _prisma_migrations");
  t.same(await store.channels.list(), [], "schema usable");
});

await eachProvider(t, "concurrent starts both succeed and apply each migration once", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  const results = await Promise.all([migrate(url), migrate(url), migrate(url)]);
  const applied = results.flatMap((r) => r.applied);
  t.same(applied.sort(), readMigrations(provider).map((m) => m.name).sort(), "each migration applied exactly once overall");
  const store = await createStore(url);
  t.teardown(() => store.close());
  t.equal((await store.appliedMigrations()).length, readMigrations(provider).length);
});

t.test("a migration changed after it was applied stops the start", async (t) => {
  const url = await freshDatabase(t, "sqlite");
  await migrate(url);
  const db = new Database(url.replace(/^file:/, ""));
  db.prepare(`UPDATE "_prisma_migrations" SET checksum = 'tampered'`).run();
  db.close();
  await t.rejects(migrate(url), MigrationChecksumError);
});

t.test("SQLite runs in WAL mode", async (t) => {
  const url = await freshDatabase(t, "sqlite");
  await migrate(url);
  const db = new Database(url.replace(/^file:/, ""));
  t.equal(db.pragma("journal_mode", { simple: true }), "wal");
  db.close();
});

await eachProvider(t, "a failing migration leaves nothing half-applied", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  await migrate(url);
  // A table the next (simulated) migration would create, then fail on.
  const broken = [{ name: "99999999999999_broken", sql: 'CREATE TABLE "Half" (id INTEGER); SELECT * FROM "NoSuchTable";', checksum: "x" }];
  const { migrateWith } = await import("../../src/db/migrate.js");
  await t.rejects(migrateWith(url, [...readMigrations(provider), ...broken]));
  if (provider === "postgresql") {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const r = await c.query(`SELECT to_regclass('"Half"') AS t`);
    await c.end();
    t.equal(r.rows[0].t, null, "the table of the failed migration is gone");
  } else {
    const db = new Database(url.replace(/^file:/, ""));
    t.equal((db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name = 'Half'`).get() as { n: number }).n, 0, "the table of the failed migration is gone");
    db.close();
  }
  const store = await createStore(url);
  t.teardown(() => store.close());
  t.notOk((await store.appliedMigrations()).includes("99999999999999_broken"), "not recorded");
});

t.test("the store's SQLite connection commits with synchronous=FULL in WAL mode", async (t) => {
  const url = await freshDatabase(t, "sqlite");
  await migrate(url);
  const store = await createStore(url);
  t.teardown(() => store.close());
  t.equal(Number(await store.pragma("synchronous")), 2, "FULL");
  t.equal(await store.pragma("journal_mode"), "wal");
});
