// Test databases: a fresh SQLite file or a fresh PostgreSQL database per
// test, dropped afterwards. PostgreSQL is the server on this machine
// (TEST_PG_URL, default postgresql://postgres@127.0.0.1:5432/test). Where it
// is unreachable, PostgreSQL tests are skipped LOUDLY — except in CI
// (CI=true), where that is a failure.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Test } from "tap";
import { STATE_CHANNEL } from "../../src/repositories/state-repo.js";

export type Provider = "sqlite" | "postgresql";
export const PG_URL = process.env.TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

let pgProbe: Promise<string | null> | undefined;

/** null when PostgreSQL answers, else why not. */
export function pgUnavailableReason(): Promise<string | null> {
  pgProbe ??= (async () => {
    const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.query("SELECT 1");
      return null;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await c.end().catch(() => {});
    }
  })();
  return pgProbe;
}

function urlWithDatabase(base: string, name: string): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

/** One statement as the superuser of PG_URL, on its own connection. */
export async function adminQuery(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

/**
 * How many connections to the database of `url` are LISTENing on the
 * replicas' channel (src/db/state-listener.ts): a replica's LISTEN is in
 * force once its connection is idle after the LISTEN statement. A test that
 * needs a notification to reach a replica waits for this, not for a guess.
 */
export async function stateListeners(url: string): Promise<number> {
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  const res = await adminQuery(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'idle' AND query = $2`, [database, `LISTEN ${STATE_CHANNEL}`]);
  return (res.rows[0] as { n: number }).n;
}

/**
 * A private temporary directory, removed in teardown. (tap's t.testdir()
 * is one directory per test: a second call would wipe the first.)
 */
export function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "chartroom-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Creates an empty database of the provider for this test; dropped in teardown. */
export async function freshDatabase(t: Test, provider: Provider): Promise<string> {
  if (provider === "sqlite") {
    return `file:${join(tempDir(t), "chartroom.db")}`;
  }
  const name = `chartroom_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  t.teardown(() => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  return urlWithDatabase(PG_URL, name);
}

/**
 * Runs `fn` as a subtest once per provider. Without PostgreSQL the
 * PostgreSQL run is skipped with a loud message, or fails under CI.
 */
export function eachProvider(t: Test, name: string, fn: (t: Test, provider: Provider) => Promise<void>): Promise<void> {
  return (async () => {
    for (const provider of ["sqlite", "postgresql"] as const) {
      if (provider === "postgresql") {
        const reason = await pgUnavailableReason();
        if (reason) {
          if (process.env.CI) {
            t.fail(`PostgreSQL is required in CI but unreachable at ${PG_URL}: ${reason}`);
          } else {
            process.stderr.write(`\n*** skipped: no PostgreSQL at ${PG_URL} (${reason}) — "${name}" ran on SQLite only ***\n\n`);
            await t.test(`${name} [postgresql]`, { skip: `skipped: no PostgreSQL (${reason})` }, async () => {});
          }
          continue;
        }
      }
      await t.test(`${name} [${provider}]`, (tt) => fn(tt, provider));
    }
  })();
}
