// Two reports of one licensee at once on PostgreSQL
// (src/services/report-service.ts, src/repositories/reports-repo.ts): each
// takes its time before the licensee's report lock, so they can commit out
// of the order of their times (here: two replicas whose clocks differ by a
// second, the newer report first in the lock's queue). The newer report
// must stay the licensee's current one. The test holds the lock itself on
// its own connection, so the order of the queue is the test's.
import pg from "pg";
import t from "tap";
import { freshDatabase, pgUnavailableReason } from "../helpers/db.js";
import { testApp } from "../helpers/app.js";
import { eventually } from "../helpers/eventually.js";
import { reportService } from "../../src/services/report-service.js";
import { REPORT_LOCK_NAMESPACE } from "../../src/repositories/reports-repo.js";

const noPg = await pgUnavailableReason();
if (noPg) {
  if (process.env.CI) t.fail(`PostgreSQL is required in CI: ${noPg}`);
  else t.comment(`*** skipped: no PostgreSQL (${noPg}) ***`);
}

t.test("two concurrent reports committed out of the order of their times: the newer stays current", { skip: noPg ? "no PostgreSQL" : false }, async (t) => {
  const url = await freshDatabase(t, "postgresql");
  const h = await testApp(t, { databaseUrl: url });
  const locker = new pg.Client({ connectionString: url });
  await locker.connect();
  t.teardown(() => locker.end());
  const waiting = async () => (await locker.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rows[0].n as number;

  const newer = new Date(Date.UTC(2026, 11, 1, 16, 0, 1));
  const older = new Date(Date.UTC(2026, 11, 1, 16, 0, 0));
  const replicaA = reportService(h.ctx.store, { now: () => newer });
  const replicaB = reportService(h.ctx.store, { now: () => older });
  const reporter = { sub: "acme", channel: "stable" };

  await locker.query(`SELECT pg_advisory_lock(${REPORT_LOCK_NAMESPACE}, hashtext($1))`, ["acme"]);
  const a = replicaA.report(reporter, { release: "0.59.2", state: "healthy" });
  t.ok((await eventually(async () => ((await waiting()) === 1 ? true : undefined), { within: 10_000, every: 10 })).ok, "the newer report waits for the lock first");
  const b = replicaB.report(reporter, { release: "0.58.1", state: "failed", message: "an older view" });
  t.ok((await eventually(async () => ((await waiting()) === 2 ? true : undefined), { within: 10_000, every: 10 })).ok, "then the older one");
  await locker.query(`SELECT pg_advisory_unlock(${REPORT_LOCK_NAMESPACE}, hashtext($1))`, ["acme"]);
  const [ra, rb] = await Promise.all([a, b]);
  t.equal(ra.reportedAt.getTime(), newer.getTime());
  t.equal(rb.reportedAt.getTime(), older.getTime());

  const current = await h.ctx.store.reports.currentOf(["acme"]);
  t.same(current.map((r) => [r.releaseId, r.state, r.reportedAt.getTime()]), [[ra.release.id, "healthy", newer.getTime()]], "the newer report is current, not the one committed last");
  t.equal((await h.ctx.store.reports.latestOf("acme")).length, 2, "both stored as the latest on their release");
});
