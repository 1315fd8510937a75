// src/services/report-service.ts with a fake store: what a report stores,
// the unknown release, and the write slots that keep a burst of reports
// from taking every database connection.
import t from "tap";
import { reportService } from "../../src/services/report-service.js";
import type { HealthReport } from "../../src/repositories/reports-repo.js";
import type { Store } from "../../src/repositories/store.js";
import { DatabaseBusyError, ReleaseNotFoundError } from "../../src/errors.js";

function fakeStore(hold?: Promise<void>) {
  const stored: HealthReport[] = [];
  const reports = { record: async (r: HealthReport) => void stored.push(r) };
  const store = {
    releases: { findByRef: async (ref: string) => (ref === "0.58.1" || ref === "rel-1" ? { id: "rel-1", version: "0.58.1" } : null) },
    reports,
    transaction: async <T>(fn: (repos: { reports: typeof reports }) => Promise<T>) => {
      await hold;
      return fn({ reports });
    },
  } as unknown as Pick<Store, "releases" | "reports" | "transaction">;
  return { store, stored };
}

t.test("a report is stored with the license's claims and the release's id", async (t) => {
  const { store, stored } = fakeStore();
  const at = new Date("2026-12-01T16:00:00Z");
  const seen: string[] = [];
  const svc = reportService(store, { now: () => at, onReported: (s) => seen.push(s) });
  const receipt = await svc.report({ sub: "acme", channel: "stable", jti: "j1" }, { release: "0.58.1", state: "degraded", message: "1 of 3 pods" });
  t.same(receipt, { release: { id: "rel-1", version: "0.58.1" }, state: "degraded", reportedAt: at });
  t.same(stored, [{ sub: "acme", releaseId: "rel-1", channel: "stable", state: "degraded", message: "1 of 3 pods", reportedAt: at, jti: "j1" }]);
  await svc.report({ sub: "anon-less", channel: "beta" }, { release: "rel-1", state: "healthy" });
  t.match(stored[1], { message: null, jti: null }, "no message, no jti: null");
  t.same(seen, ["degraded", "healthy"], "each stored report told");
  const err = await svc.report({ sub: "acme", channel: "stable" }, { release: "9.9.9", state: "healthy" }).catch((e: unknown) => e);
  t.ok(err instanceof ReleaseNotFoundError, "an unknown release: RELEASE_NOT_FOUND");
  t.match(err, { field: "release", statusCode: 404 });
  t.equal(stored.length, 2, "nothing stored for it");
});

t.test("beyond its write slots and queue a report is refused at once (503 DATABASE_BUSY)", async (t) => {
  let release!: () => void;
  const { store, stored } = fakeStore(new Promise<void>((r) => (release = r)));
  const svc = reportService(store, { slots: 1, queue: 1 });
  const who = { sub: "s", channel: "stable" };
  const first = svc.report(who, { release: "0.58.1", state: "applying" });
  const second = svc.report(who, { release: "0.58.1", state: "healthy" });
  await new Promise((r) => setImmediate(r));
  await t.rejects(svc.report(who, { release: "0.58.1", state: "failed" }), DatabaseBusyError, "the third: no slot, queue full");
  release();
  await Promise.all([first, second]);
  t.same(stored.map((r) => r.state), ["applying", "healthy"], "the two admitted are stored, in order");
});
