// SQLite when writes fail (issue 13): a disk that fills up, a database file
// made read-only. Before the fix a COMMIT refused by a full disk left the
// SQLite adapter's transaction lock held (src/db/transaction-guard.ts), so
// every later write hung until a restart while /readyz said ready and
// chartroom_database_up said 1. Each step asserts the answer, its latency
// (measured and reported), and recovery without a restart.
//
// Both need root: a small tmpfs for the database (grown with a remount to
// recover), and the immutable attribute (chattr +i), which refuses writes
// through a file already open (permissions are checked only at open, so a
// chmod would not reach the running server). Without root both are skipped
// loudly; test/faults/transaction-guard.test.ts covers the lock without root.
import t from "tap";
import Database from "better-sqlite3";
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Test } from "tap";
import { testApp, type TestApp } from "../helpers/app.js";
import { tempDir } from "../helpers/db.js";
import { eventually } from "../helpers/eventually.js";
import { call, releaseBody } from "../routes/admin/fixtures/admin-helpers.js";
import { assertUnavailable, databaseUp, readyz, timed } from "./fault-helpers.js";

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) t.fail("CI must run the disk-full and read-only tests, which need root (tmpfs, chattr +i)");
if (!isRoot) process.stderr.write("\n*** skipped: the disk-full and read-only tests need root (tmpfs, chattr) ***\n\n");
/** Generous: the machine is shared. A write that hangs waits 20 s or more. */
const WRITE_BOUND_MS = 4000;

function tmpfs(t: Test, sizeKb: number): string {
  const dir = join(tempDir(t), "disk");
  mkdirSync(dir);
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKb}k`, "tmpfs", dir]);
  // Lazy: the app's own teardown may still hold the files open.
  t.teardown(() => execFileSync("umount", ["-l", dir]));
  return dir;
}

async function app(t: Test, dir: string): Promise<TestApp> {
  return testApp(t, { databaseUrl: `file:${join(dir, "chartroom.db")}`, env: { STATE_CHECK_INTERVAL_MS: "200" } });
}

async function createRelease(t: Test, h: TestApp, version: string, extra: Record<string, unknown> = {}) {
  return timed(t, `create release ${version}`, WRITE_BOUND_MS, () => call(h, "POST", "/releases", { body: releaseBody(version, extra), role: "release-engineer" }));
}

async function promote(t: Test, h: TestApp, version: string, expectedCurrent: string) {
  return timed(t, `promote ${version} to unstable`, WRITE_BOUND_MS, () =>
    call(h, "POST", "/channels/unstable/promote", { body: { release: version, expectedCurrent, reason: "fault test" }, role: "release-engineer" }),
  );
}

async function assertServing(t: Test, h: TestApp, what: string) {
  const poll = await timed(t, `${what}: poll`, WRITE_BOUND_MS, () => h.poll(h.license()));
  t.equal(poll?.statusCode, 200, `${what}: polls are answered`);
  const list = await timed(t, `${what}: admin read`, WRITE_BOUND_MS, () => call(h, "GET", "/releases", { role: "viewer" }));
  t.equal(list?.statusCode, 200, `${what}: admin reads are answered`);
}

/** Waits until /readyz and the gauge agree on `ready`; reports how long it took. */
async function assertHealth(t: Test, h: TestApp, ready: boolean, what: string) {
  const seen = await eventually(async () => {
    const r = await readyz(h);
    return (r.status === 200) === ready && (await databaseUp(h)) === (ready ? 1 : 0) ? r : undefined;
  }, { within: 3000 });
  t.ok(seen.ok, `${what}: /readyz ${ready ? "200" : "503"} and chartroom_database_up ${ready ? 1 : 0} (${seen.summary})`);
  if (!ready) t.match(seen.value?.reason, /refuses writes/, `${what}: the reason says writes are refused`);
}

t.test("a full disk: 503 with Retry-After, no stalled writes, not ready while full, ready again when grown", { skip: isRoot ? false : "needs root to mount a small tmpfs (loud skip)" }, async (t) => {
  // Booted on a roomy disk, then shrunk to what it holds plus 150 KB: the schema grows with every
  // migration, and the test is about a write that does not fit, not about the size of a fresh database.
  const dir = tmpfs(t, 8192);
  const h = await app(t, dir);
  const usedKb = Number(execFileSync("du", ["-sk", dir], { encoding: "utf8" }).split(/\s+/)[0]);
  execFileSync("mount", ["-o", `remount,size=${usedKb + 150}k`, dir]);
  await assertHealth(t, h, true, "before");

  // A release whose values do not fit on the disk: refused at COMMIT.
  const big = await createRelease(t, h, "9.0.0", { values: { blob: "x".repeat(300_000) } });
  assertUnavailable(t, big, "the release that does not fit");
  t.equal((await call(h, "GET", "/releases/9.0.0", { role: "viewer" })).statusCode, 404, "nothing of it was stored");

  // The writes after it (they hung forever before the fix).
  const small = await createRelease(t, h, "9.0.1");
  t.equal(small?.statusCode, 201, "a small release after it is stored");
  const promoted = await promote(t, h, "9.0.1", "0.60.0");
  t.equal(promoted?.statusCode, 200, `and promoted (${promoted?.body.slice(0, 200)})`);
  await assertHealth(t, h, true, "after a write that did not fit, small writes work");

  // Fill the disk to the last byte: now every write fails. (The WAL file is
  // emptied first: a write that fits in its old frames needs no new space.)
  const side = new Database(join(dir, "chartroom.db"));
  side.pragma("wal_checkpoint(TRUNCATE)");
  side.close();
  const filler = join(dir, "filler");
  writeFileSync(filler, "");
  try {
    for (;;) appendFileSync(filler, Buffer.alloc(4096));
  } catch (err) {
    t.equal((err as { code?: string }).code, "ENOSPC", "the disk is full");
  }
  const refused = await createRelease(t, h, "9.0.2");
  assertUnavailable(t, refused, "a write on a full disk");
  await assertHealth(t, h, false, "disk full");
  await assertServing(t, h, "disk full");

  // Grown (no restart): the next check's probe write succeeds.
  execFileSync("mount", ["-o", "remount,size=8m", dir]);
  await assertHealth(t, h, true, "disk grown");
  const after = await createRelease(t, h, "9.0.3");
  t.equal(after?.statusCode, 201, "writes are stored again");
  const promotedAfter = await promote(t, h, "9.0.3", "9.0.1");
  t.equal(promotedAfter?.statusCode, 200, "and promotions");
  rmSync(filler);
});

t.test("a read-only database file: 503 with Retry-After, not ready, ready again when writable", { skip: isRoot ? false : "needs root for chattr +i (loud skip)" }, async (t) => {
  const dir = tempDir(t);
  const h = await app(t, dir);
  const files = ["chartroom.db", "chartroom.db-wal"].map((f) => join(dir, f));
  const readOnly = (on: boolean) => {
    for (const f of files) execFileSync("chattr", [on ? "+i" : "-i", f]);
  };
  t.teardown(() => readOnly(false));
  readOnly(true);
  const refused = await createRelease(t, h, "9.1.0");
  assertUnavailable(t, refused, "a write to a read-only file");
  await assertHealth(t, h, false, "read-only");
  await assertServing(t, h, "read-only");
  readOnly(false);
  await assertHealth(t, h, true, "writable again");
  const after = await createRelease(t, h, "9.1.1");
  t.equal(after?.statusCode, 201, "writes are stored again");
});
