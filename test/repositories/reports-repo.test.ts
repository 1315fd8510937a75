// The reports repository on both databases: sub lists longer than one
// query's IN list are counted and read in full, times round-trip to the
// millisecond, and the current row moves with each licensee's newest report.
import t from "tap";
import { migrate } from "../../src/db/migrate.js";
import { createStore } from "../../src/repositories/store.js";
import type { HealthReport } from "../../src/repositories/reports-repo.js";
import { eachProvider, freshDatabase } from "../helpers/db.js";

await eachProvider(t, "reports: counts and reads over long sub lists, the newest marked current", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  await migrate(url);
  const store = await createStore(url);
  t.teardown(() => store.close());
  const at = new Date(Date.UTC(2026, 11, 1, 16, 0, 0, 789));
  const states = ["healthy", "healthy", "failed", "degraded", "applying"] as const;
  const reports: HealthReport[] = Array.from({ length: 600 }, (_, i) => ({
    sub: `lic-${i}`, releaseId: "r1", channel: i % 2 ? "beta" : "stable", state: states[i % 5]!, message: null, reportedAt: at, jti: `j${i}`,
  }));
  for (const r of reports) await store.transaction((repos) => repos.reports.record(r));
  const subs = reports.map((r) => r.sub);
  t.same(await store.reports.countsOn("r1", { subs }), { healthy: 240, failed: 120, degraded: 120, applying: 120 }, "every sub counted, across several IN lists");
  t.same(await store.reports.countsOn("r1", { subs: subs.slice(0, 10) }), { healthy: 4, failed: 2, degraded: 2, applying: 2 });
  t.same(await store.reports.countsOn("r1", { channel: "beta" }), { healthy: 120, failed: 60, degraded: 60, applying: 60 }, "by channel");
  t.same(await store.reports.countsOn("r2", { subs }), { healthy: 0, failed: 0, degraded: 0, applying: 0 }, "another release: none");
  t.equal((await store.reports.currentOf(subs)).length, 600, "every licensee's newest, across several IN lists");
  const [one] = await store.reports.currentOf(["lic-7"]);
  t.equal(one?.reportedAt.getTime(), at.getTime(), "the time to the millisecond");
  t.equal(one?.jti, "j7");

  // lic-7 moves to r2: its r1 row stays (its latest there) but is no longer current.
  await store.transaction((repos) => repos.reports.record({ ...reports[7]!, releaseId: "r2", state: "failed", message: "Invalid Config", reportedAt: new Date(at.getTime() + 1000) }));
  t.same((await store.reports.currentOf(["lic-7"])).map((r) => [r.releaseId, r.state, r.message]), [["r2", "failed", "Invalid Config"]]);
  t.equal((await store.reports.countsOn("r1", { subs })).failed, 120, "its latest on r1 still counts on r1");
  const dist = await store.reports.currentDistribution();
  const find = (channel: string, releaseId: string, state: string) => dist.find((d) => d.channel === channel && d.releaseId === releaseId && d.state === state)?.licensees;
  t.equal(find("beta", "r2", "failed"), 1, "the gauge: lic-7's newest");
  t.equal(find("beta", "r1", "failed"), 59, "and no longer on r1");
  t.equal(dist.reduce((n, d) => n + d.licensees, 0), 600, "one newest report per licensee");
});

await eachProvider(t, "reports committed out of the order of their times: the older never replaces the newer", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  await migrate(url);
  const store = await createStore(url);
  t.teardown(() => store.close());
  const t0 = Date.UTC(2026, 11, 1, 16, 0, 0, 0);
  const base: HealthReport = { sub: "lic-1", releaseId: "r1", channel: "stable", state: "healthy", message: null, reportedAt: new Date(t0), jti: null };
  const record = (r: Partial<HealthReport>) => store.transaction((repos) => repos.reports.record({ ...base, ...r }));
  await record({});
  // The newer report (on r2) commits first, then one taken a second earlier (on r1).
  await record({ releaseId: "r2", state: "degraded", reportedAt: new Date(t0 + 2000) });
  await record({ releaseId: "r1", state: "failed", reportedAt: new Date(t0 + 1000) });
  t.same((await store.reports.currentOf(["lic-1"])).map((r) => [r.releaseId, r.state]), [["r2", "degraded"]], "the newer stays current");
  t.same((await store.reports.latestOf("lic-1")).map((r) => [r.releaseId, r.state, r.reportedAt.getTime()]), [["r2", "degraded", t0 + 2000], ["r1", "failed", t0 + 1000]], "r1's latest is the one of t0+1s");
  // On one release: an older report does not overwrite the newer.
  await record({ releaseId: "r2", state: "applying", reportedAt: new Date(t0 + 1500) });
  t.same((await store.reports.currentOf(["lic-1"])).map((r) => [r.releaseId, r.state, r.reportedAt.getTime()]), [["r2", "degraded", t0 + 2000]], "the newer stays on its release");
  // And a newer one still moves the current row.
  await record({ releaseId: "r1", state: "healthy", reportedAt: new Date(t0 + 3000) });
  t.same((await store.reports.currentOf(["lic-1"])).map((r) => [r.releaseId, r.state]), [["r1", "healthy"]]);
  t.equal((await store.reports.currentDistribution()).reduce((n, d) => n + d.licensees, 0), 1, "one current row");
  t.equal((await store.reports.history("lic-1")).length, 5, "every report is in the history");
});
