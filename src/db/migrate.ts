// Applies the SQL migrations of prisma/<provider>/migrations in order, each
// in its own transaction, recorded in a `_prisma_migrations` table laid out
// as Prisma's own (so `prisma migrate status` agrees where it can run).
// Prisma's migrate engine cannot run here (see docs/data.md), so this is
// the applier for both providers. A lock makes concurrent starts safe:
// PostgreSQL takes an advisory lock, SQLite an exclusive transaction.
import { createHash, randomUUID } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import type pg from "pg";
import { providerOf, sqlitePath, type Provider } from "./client.js";

/** Arbitrary constant: the key of the advisory lock migrations run under. */
export const MIGRATION_LOCK_KEY = 7_243_117_001;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function migrationsDir(provider: Provider): string {
  return join(packageRoot, "prisma", provider, "migrations");
}

export function readMigrations(provider: Provider): Migration[] {
  const dir = migrationsDir(provider);
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

export class MigrationChecksumError extends Error {
  constructor(name: string) {
    super(`migration ${name} was changed after it was applied (checksum differs); restore the file or write a new migration`);
    this.name = "MigrationChecksumError";
  }
}

function plan(all: Migration[], applied: Map<string, string>): Migration[] {
  for (const m of all) {
    const sum = applied.get(m.name);
    if (sum !== undefined && sum !== m.checksum) throw new MigrationChecksumError(m.name);
  }
  return all.filter((m) => !applied.has(m.name));
}

const SQLITE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" TEXT PRIMARY KEY NOT NULL, "checksum" TEXT NOT NULL, "finished_at" DATETIME,
  "migration_name" TEXT NOT NULL, "logs" TEXT, "rolled_back_at" DATETIME,
  "started_at" DATETIME NOT NULL DEFAULT current_timestamp,
  "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0)`;

const PG_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`;

function migrateSqlite(url: string, migrations: Migration[]): MigrationResult {
  const db = new Database(sqlitePath(url), { timeout: 15_000 });
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("foreign_keys = ON");
    const applied: string[] = [];
    let already = 0;
    // BEGIN EXCLUSIVE: a second process waits (busy timeout) and then finds
    // everything applied.
    db.exec("BEGIN EXCLUSIVE");
    try {
      db.exec(SQLITE_TABLE);
      const rows = db
        .prepare(`SELECT migration_name, checksum FROM "_prisma_migrations" WHERE rolled_back_at IS NULL AND finished_at IS NOT NULL`)
        .all() as { migration_name: string; checksum: string }[];
      const done = new Map(rows.map((r) => [r.migration_name, r.checksum]));
      already = done.size;
      const insert = db.prepare(
        `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
         VALUES (?, ?, current_timestamp, ?, current_timestamp, 1)`,
      );
      for (const m of plan(migrations, done)) {
        db.exec(m.sql);
        insert.run(randomUUID(), m.checksum, m.name);
        applied.push(m.name);
      }
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
    return { applied, alreadyApplied: already };
  } finally {
    db.close();
  }
}

/** The pg module, loaded only where PostgreSQL is used (it costs ~15 MB and ~0.1 s to load). */
export async function loadPg(): Promise<typeof pg> {
  return (await import("pg")).default;
}

async function migratePostgres(url: string, migrations: Migration[]): Promise<MigrationResult> {
  const { Client } = await loadPg();
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    try {
      await client.query(PG_TABLE);
      const { rows } = await client.query<{ migration_name: string; checksum: string }>(
        `SELECT migration_name, checksum FROM "_prisma_migrations" WHERE rolled_back_at IS NULL AND finished_at IS NOT NULL`,
      );
      const done = new Map(rows.map((r) => [r.migration_name, r.checksum]));
      const applied: string[] = [];
      for (const m of plan(migrations, done)) {
        await client.query("BEGIN");
        try {
          await client.query(m.sql);
          await client.query(
            `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
             VALUES ($1, $2, now(), $3, now(), 1)`,
            [randomUUID(), m.checksum, m.name],
          );
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK");
          throw err;
        }
        applied.push(m.name);
      }
      return { applied, alreadyApplied: done.size };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}

/** Applies every pending migration; a second call applies nothing. */
export async function migrate(url: string): Promise<MigrationResult> {
  return migrateWith(url, readMigrations(providerOf(url)));
}

/** Applies the given migrations (tests pass their own list). */
export async function migrateWith(url: string, migrations: Migration[]): Promise<MigrationResult> {
  return providerOf(url) === "sqlite" ? migrateSqlite(url, migrations) : migratePostgres(url, migrations);
}


/** The key of the advisory lock the first-boot load of CHANNELS_DIR runs under. */
export const FIRST_BOOT_LOCK_KEY = 7_243_117_002;

/**
 * Runs `fn` while holding a PostgreSQL advisory lock (SQLite: just runs it;
 * its writes are serialized by the database file). Replicas starting
 * together take turns.
 */
export async function withAdvisoryLock<T>(url: string, key: number, fn: () => Promise<T>): Promise<T> {
  if (providerOf(url) === "sqlite") return withLocalLock(`${sqlitePath(url)}#${key}`, fn);
  const { Client } = await loadPg();
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [key]);
    try {
      return await fn();
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [key]);
    }
  } finally {
    await client.end();
  }
}

const localLocks = new Map<string, Promise<unknown>>();

/**
 * SQLite is one node: other processes wait on the file's lock (busy
 * timeout), but two connections in one process would block each other's
 * event loop, so callers in this process take turns here.
 */
async function withLocalLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const previous = localLocks.get(name) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(fn);
  const tail = run.catch(() => {});
  localLocks.set(name, tail);
  try {
    return await run;
  } finally {
    if (localLocks.get(name) === tail) localLocks.delete(name);
  }
}
