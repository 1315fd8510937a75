// One licensee without the fleet (docs/api.md §3): GET /fleet/:sub (its
// entry, as in GET /fleet), GET /fleet/:sub/reports (its last health
// reports, newest first) and GET /licenses?sub= (the licenses issued to it).
// The console's licensee page reads these. On both databases.
import t from "tap";
import { eachProvider } from "../../helpers/db.js";
import { testApp, type TestApp } from "../../helpers/app.js";
import { assertError, call } from "./fixtures/admin-helpers.js";
import { REPORT_HISTORY_MAX } from "../../../src/repositories/reports-repo.js";

function report(h: TestApp, token: string, body: unknown) {
  return h.app.inject({
    method: "POST",
    url: "/api/v1/operator/report",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    payload: JSON.stringify(body),
  });
}

await eachProvider(t, "a licensee's fleet entry, reports and licenses", async (t, provider) => {
  const h = await testApp(t, { provider });
  const token = h.license({ sub: "acme_corp", channel: "stable", jti: "lic-acme-1" });
  t.equal((await h.poll(token)).statusCode, 200, "acme_corp polls");
  t.equal((await h.poll(h.license({ sub: "other", channel: "beta" }))).statusCode, 200, "another licensee polls");
  await h.ctx.fleet.flush();

  const entry = await call(h, "GET", "/fleet/acme_corp", { role: "viewer" });
  t.equal(entry.statusCode, 200, entry.body);
  const whole = (await call(h, "GET", "/fleet", { role: "viewer" })).json().items.find((i: { sub: string }) => i.sub === "acme_corp");
  t.same(entry.json(), whole, "the same entry as in GET /fleet");
  t.match(entry.json(), { sub: "acme_corp", channel: "stable", releaseVersion: "0.58.1", jti: "lic-acme-1", pollCount: 1, licenseRevoked: false, report: null });

  const missing = await call(h, "GET", "/fleet/nobody", { role: "viewer" });
  assertError(t, missing, 404, "FLEET_ENTRY_NOT_FOUND", undefined, "a licensee that never polled");
  t.match(missing.json().message, /nobody/, "the message names it");
  t.same((await call(h, "GET", "/fleet/nobody/reports", { role: "viewer" })).json(), { items: [] }, "no reports: an empty list");
  t.equal((await h.app.inject({ method: "GET", url: "/api/v1/admin/fleet/acme_corp" })).statusCode, 401, "no token: 401");
  const at = Date.now();
  await h.ctx.store.fleet.recordMany([{ sub: "team/a b", channel: "beta", releaseId: null, releaseVersion: null, jti: null, licenseExp: null, userAgent: null, firstSeenAt: at, lastSeenAt: at, polls: 1 }]);
  t.equal((await call(h, "GET", `/fleet/${encodeURIComponent("team/a b")}`, { role: "viewer" })).json().sub, "team/a b", "a sub with a slash and a space, percent-encoded");

  // Reports: newest first, each with its release's version and channel; at most the last 50.
  t.equal((await report(h, token, { release: "0.58.1", state: "applying" })).statusCode, 202);
  t.equal((await report(h, token, { release: "0.58.1", state: "healthy", message: "ready" })).statusCode, 202);
  t.equal((await report(h, token, { release: "0.59.2", state: "failed", message: "Invalid Config" })).statusCode, 202);
  const reports = await call(h, "GET", "/fleet/acme_corp/reports", { role: "viewer" });
  t.equal(reports.statusCode, 200, reports.body);
  t.same(reports.json().items.map((r: { state: string; releaseVersion: string; channel: string; message: string | null }) => [r.state, r.releaseVersion, r.channel, r.message]), [
    ["failed", "0.59.2", "stable", "Invalid Config"],
    ["healthy", "0.58.1", "stable", "ready"],
    ["applying", "0.58.1", "stable", null],
  ], "newest first");
  t.match(reports.json().items[0].reportedAt, /^\d{4}-\d\d-\d\dT.*Z$/);
  t.match((await call(h, "GET", "/fleet/acme_corp", { role: "viewer" })).json().report, { state: "failed", releaseVersion: "0.59.2" }, "the entry's report is the newest");
  for (let i = 0; i < REPORT_HISTORY_MAX; i++) await report(h, token, { release: "0.58.1", state: "healthy", message: `n${i}` });
  const kept = (await call(h, "GET", "/fleet/acme_corp/reports", { role: "viewer" })).json().items as { message: string }[];
  t.equal(kept.length, REPORT_HISTORY_MAX, `the last ${REPORT_HISTORY_MAX}`);
  t.equal(kept[0]!.message, `n${REPORT_HISTORY_MAX - 1}`, "the newest first");

  // Licenses issued to one licensee, and its revocation.
  const issued = await call(h, "POST", "/licenses", { role: "admin", body: { sub: "acme_corp", channel: "stable", notes: "renewal" } });
  t.equal(issued.statusCode, 201, issued.body);
  t.equal((await call(h, "POST", "/licenses", { role: "admin", body: { sub: "other", channel: "beta" } })).statusCode, 201);
  const mine = (await call(h, "GET", "/licenses?sub=acme_corp", { role: "viewer" })).json().items as { jti: string; sub: string; revoked: boolean }[];
  t.same(mine.map((l) => [l.jti, l.sub, l.revoked]), [[issued.json().jti, "acme_corp", false]], "only acme_corp's license");
  t.equal((await call(h, "POST", `/licenses/${issued.json().jti}/revoke`, { role: "admin", body: { reason: "churned" } })).statusCode, 200);
  t.match((await call(h, "GET", "/licenses?sub=acme_corp", { role: "viewer" })).json().items, [{ revoked: true, revokeReason: "churned" }], "with its revocation");
  t.equal((await call(h, "GET", "/licenses", { role: "viewer" })).json().items.length, 2, "without sub: every license, as before");
  t.same((await call(h, "GET", "/licenses?sub=nobody", { role: "viewer" })).json(), { items: [] });
  assertError(t, await call(h, "GET", "/licenses?subject=acme", { role: "viewer" }), 400, "VALIDATION_FAILED", undefined, "an unknown query field");
});
