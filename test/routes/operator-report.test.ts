// Health reports (docs/api.md §9): POST /api/v1/operator/report, admitted
// like a poll (license, revocation, the licensee's limit shared with its
// polls, no anonymous reports); stored as the latest state per licensee and
// release with a bounded history; shown in the fleet, the rollout counts and
// the metrics. On both databases.
import t, { type Test } from "tap";
import type { LightMyRequestResponse } from "fastify";
import { eachProvider } from "../helpers/db.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { assertError } from "./admin/fixtures/admin-helpers.js";
import { REPORT_HISTORY_MAX } from "../../src/repositories/reports-repo.js";

const PATH = "/api/v1/operator/report";
const basic = (token: string) => `Basic ${Buffer.from(`license:${token}`).toString("base64")}`;

function report(h: TestApp, token: string | null, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return h.app.inject({
    method: "POST",
    url: PATH,
    headers: { ...(token === null ? {} : { authorization: basic(token) }), "content-type": "application/json", ...headers },
    payload: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function fleetOf(h: TestApp, sub: string) {
  await h.ctx.fleet.flush();
  const res = await h.admin("GET", "/fleet", undefined, "viewer");
  return (res.json() as { items: { sub: string; report: unknown }[] }).items.find((i) => i.sub === sub);
}

async function metric(h: TestApp, re: RegExp): Promise<number | undefined> {
  const m = re.exec((await h.app.inject({ method: "GET", url: "/metrics" })).body);
  return m ? Number(m[1]) : undefined;
}

await eachProvider(t, "a report is accepted (202), stored as the latest per release, and shown in the fleet", async (t: Test, provider) => {
  const h = await testApp(t, { provider });
  const token = h.license({ sub: "acme", channel: "stable" });
  t.equal((await h.poll(token)).statusCode, 200, "acme polls (in the fleet)");
  t.equal((await fleetOf(h, "acme"))?.report, null, "no report yet: null");

  const res = await report(h, token, { release: "0.58.1", state: "applying" });
  t.equal(res.statusCode, 202);
  const body = res.json();
  t.same(Object.keys(body).sort(), ["accepted", "release", "reportedAt", "state"]);
  t.equal(body.accepted, true);
  t.equal(body.release.version, "0.58.1");
  t.equal(body.state, "applying");
  t.equal(res.headers["x-content-type-options"], "nosniff", "security headers on the answer");

  // By id as well as by version; a message with line breaks.
  const byId = await report(h, token, { release: body.release.id, state: "healthy", message: "all pods ready\nin 42s" });
  t.equal(byId.statusCode, 202, "the release by its id");
  const entry = (await fleetOf(h, "acme")) as { report: Record<string, unknown> } | undefined;
  t.match(entry?.report, { state: "healthy", releaseId: body.release.id, releaseVersion: "0.58.1", message: "all pods ready\nin 42s" }, "the fleet shows the newest report");
  t.match(String(entry?.report.reportedAt), /^\d{4}-\d\d-\d\dT/);

  // A report on another release: the newest of all is on it, the old release keeps its latest.
  t.equal((await report(h, token, { release: "0.59.2", state: "failed", message: "Invalid Config" })).statusCode, 202);
  t.match((await fleetOf(h, "acme"))?.report, { state: "failed", releaseVersion: "0.59.2", message: "Invalid Config" });
  const latest = await h.ctx.store.reports.latestOf("acme");
  t.same(latest.map((r) => [r.state, r.message]).sort(), [["failed", "Invalid Config"], ["healthy", "all pods ready\nin 42s"]].sort(), "one latest row per release");
  t.same((await h.ctx.store.reports.currentOf()).map((r) => r.sub), ["acme"], "one current report per licensee");
  t.same((await h.ctx.store.reports.history("acme")).map((r) => r.state), ["failed", "healthy", "applying"], "the history, newest first");

  // Counts on a release: the latest report per licensee on it.
  const other = h.license({ sub: "bigbank", channel: "stable" });
  t.equal((await report(h, other, { release: "0.58.1", state: "degraded" })).statusCode, 202);
  const v0581 = body.release.id as string;
  t.same(await h.ctx.store.reports.countsOn(v0581, { channel: "stable" }), { applying: 0, healthy: 1, degraded: 1, failed: 0 }, "by the license's channel");
  t.same(await h.ctx.store.reports.countsOn(v0581, { subs: ["bigbank"] }), { applying: 0, healthy: 0, degraded: 1, failed: 0 }, "by a set of subs");
  t.same(await h.ctx.store.reports.countsOn(v0581, { channel: "beta" }), { applying: 0, healthy: 0, degraded: 0, failed: 0 }, "another channel: none");
});

await eachProvider(t, "the history keeps the last reports per licensee only", async (t: Test, provider) => {
  const h = await testApp(t, { provider });
  const token = h.license({ sub: "chatty" });
  const quiet = h.license({ sub: "quiet" });
  t.equal((await report(h, quiet, { release: "0.58.1", state: "healthy", message: "first" })).statusCode, 202);
  for (let i = 0; i < REPORT_HISTORY_MAX + 7; i++) {
    const res = await report(h, token, { release: "0.58.1", state: i % 2 ? "healthy" : "applying", message: `report ${i}` });
    if (res.statusCode !== 202) t.fail(`report ${i}: ${res.statusCode} ${res.body}`);
  }
  const history = await h.ctx.store.reports.history("chatty");
  t.equal(history.length, REPORT_HISTORY_MAX, `at most ${REPORT_HISTORY_MAX}`);
  t.equal(history[0]!.message, `report ${REPORT_HISTORY_MAX + 6}`, "the newest kept");
  t.equal(history[history.length - 1]!.message, "report 7", "the oldest ones deleted");
  t.same((await h.ctx.store.reports.history("quiet")).map((r) => r.message), ["first"], "another licensee's history untouched");
  t.equal((await h.ctx.store.reports.latestOf("chatty")).length, 1, "one latest row for the one release");
});

await eachProvider(t, "reports are licensed like polls: no license 401, bad token 401, revoked 403, anonymous refused", async (t: Test, provider) => {
  const h = await testApp(t, { provider, env: { ANONYMOUS_CHANNEL: "stable" } });
  const body = { release: "0.58.1", state: "healthy" };
  assertError(t, await report(h, null, body), 401, "LICENSE_MISSING", undefined, "no Authorization header, even with ANONYMOUS_CHANNEL set");
  t.equal((await h.app.inject({ method: "GET", url: "/api/v1/operator/channel" })).statusCode, 200, "while an anonymous poll is served");
  assertError(t, await report(h, "not.a.jwt", body), 401, "LICENSE_MALFORMED", undefined, "a malformed token");
  const token = h.license({ sub: "leaky", jti: "leaked-1" });
  t.equal((await report(h, token, body)).statusCode, 202, "accepted before revocation");
  t.equal((await h.admin("POST", "/licenses/leaked-1/revoke", { reason: "leaked" })).statusCode, 200, "revoked");
  assertError(t, await report(h, token, body), 403, "LICENSE_REVOKED", undefined, "revoked");
  t.equal((await h.ctx.store.reports.history("leaky")).length, 1, "the refused report is not stored");
  t.equal((await h.ctx.store.reports.currentOf()).filter((r) => r.sub === "(anonymous)").length, 0, "no anonymous report");
});

await eachProvider(t, "the licensee's rate limit is shared by its reports and its polls", async (t: Test, provider) => {
  const h = await testApp(t, { provider, env: { RATE_LIMIT_LICENSE_PER_MINUTE: "3" } });
  const token = h.license({ sub: "greedy" });
  t.equal((await h.poll(token)).statusCode, 200, "poll 1 of 3");
  t.equal((await report(h, token, { release: "0.58.1", state: "healthy" })).statusCode, 202, "report 2 of 3");
  t.equal((await h.poll(token)).statusCode, 200, "poll 3 of 3");
  const limited = await report(h, token, { release: "0.58.1", state: "healthy" });
  assertError(t, limited, 429, "RATE_LIMITED", undefined, "the 4th request, a report");
  t.ok(Number(limited.headers["retry-after"]) >= 1, "Retry-After");
  t.equal((await h.poll(token)).statusCode, 429, "and the next poll");
  t.equal((await report(h, h.license({ sub: "patient" }), { release: "0.58.1", state: "healthy" })).statusCode, 202, "another licensee is not limited");
});

await eachProvider(t, "bad report bodies: 404 unknown release, 400 naming the field, 413 oversize, 415 not JSON", async (t: Test, provider) => {
  const h = await testApp(t, { provider });
  const token = h.license({ sub: "careless" });
  assertError(t, await report(h, token, { release: "9.9.9", state: "healthy" }), 404, "RELEASE_NOT_FOUND", "release", "an unknown release");
  const cases: [string, unknown, string][] = [
    ["no release", { state: "healthy" }, "release"],
    ["empty release", { release: "", state: "healthy" }, "release"],
    ["release not a string", { release: 1, state: "healthy" }, "release"],
    ["release too long", { release: "1".repeat(129), state: "healthy" }, "release"],
    ["release with a NUL", { release: "a\u0000b", state: "healthy" }, "release"],
    ["no state", { release: "0.58.1" }, "state"],
    ["unknown state", { release: "0.58.1", state: "Completed" }, "state"],
    ["message too long", { release: "0.58.1", state: "failed", message: "x".repeat(1025) }, "message"],
    ["message not a string", { release: "0.58.1", state: "failed", message: 5 }, "message"],
    ["message with a control character", { release: "0.58.1", state: "failed", message: "bell\u0007" }, "message"],
    ["message with a lone surrogate", { release: "0.58.1", state: "failed", message: "a\ud800b" }, "message"],
    ["an unknown field", { release: "0.58.1", state: "healthy", phase: "Completed" }, "phase"],
    ["a prototype key", '{"release":"0.58.1","state":"healthy","__proto__":{"x":1}}', "__proto__"],
    ["not an object", "[]", "(body)"],
  ];
  for (const [what, body, field] of cases) {
    const res = await report(h, token, body);
    assertError(t, res, 400, "VALIDATION_FAILED", field, what);
  }
  assertError(t, await report(h, token, "{not json"), 400, "MALFORMED_BODY", "(body)", "broken JSON");
  t.equal((await report(h, token, { release: "0.58.1", state: "healthy", message: "x".repeat(1024) })).statusCode, 202, "a message of exactly 1024 characters");
  // Go's encoding/json writes "<" as \u003c: 1024 of them (6 bytes each) still fit the body limit.
  const escaped = `{"release":"0.58.1","state":"healthy","message":"${"\\u003c".repeat(1024)}"}`;
  t.ok(escaped.length > 6144, "a body of over 6 KiB");
  t.equal((await report(h, token, escaped)).statusCode, 202, "1024 characters escaped as Go writes them");
  const big = await report(h, token, JSON.stringify({ release: "0.58.1", state: "healthy", message: "x".repeat(20_000) }));
  assertError(t, big, 413, "BODY_TOO_LARGE", undefined, "an oversize body");
  const text = await report(h, token, "release=0.58.1", { "content-type": "text/plain" });
  assertError(t, text, 415, "UNSUPPORTED_MEDIA_TYPE", undefined, "text/plain");
  const form = await report(h, token, "release=0.58.1&state=healthy", { "content-type": "application/x-www-form-urlencoded" });
  assertError(t, form, 415, "UNSUPPORTED_MEDIA_TYPE", undefined, "a form");
  t.equal((await h.ctx.store.reports.history("careless")).length, 2, "only the two valid reports were stored");
});

await eachProvider(t, "metrics: chartroom_reports_total by state, chartroom_fleet_health from each licensee's newest report", async (t: Test, provider) => {
  const h = await testApp(t, { provider });
  const a = h.license({ sub: "a", channel: "stable" });
  const b = h.license({ sub: "b", channel: "stable" });
  const c = h.license({ sub: "c", channel: "beta" });
  for (const [token, release, state] of [[a, "0.58.1", "applying"], [a, "0.58.1", "healthy"], [b, "0.58.1", "healthy"], [b, "0.59.2", "failed"], [c, "0.59.2", "healthy"]] as const) {
    t.equal((await report(h, token, { release, state })).statusCode, 202);
  }
  t.equal(await metric(h, /^chartroom_reports_total\{state="healthy"\} (\d+)/m), 3);
  t.equal(await metric(h, /^chartroom_reports_total\{state="failed"\} (\d+)/m), 1);
  t.equal(await metric(h, /^chartroom_reports_total\{state="applying"\} (\d+)/m), 1);
  t.equal(await metric(h, /^chartroom_fleet_health\{channel="stable",release="0.58.1",state="healthy"\} (\d+)/m), 1, "a: healthy on 0.58.1");
  t.equal(await metric(h, /^chartroom_fleet_health\{channel="stable",release="0.59.2",state="failed"\} (\d+)/m), 1, "b: its newest is failed on 0.59.2");
  t.equal(await metric(h, /^chartroom_fleet_health\{channel="beta",release="0.59.2",state="healthy"\} (\d+)/m), 1);
  t.equal(await metric(h, /^chartroom_fleet_health\{channel="stable",release="0.58.1",state="applying"\} (\d+)/m), undefined, "a's older state is not counted");
});

await eachProvider(t, "reports of one licensee at once: each stored, exactly one newest", async (t: Test, provider) => {
  const h = await testApp(t, { provider });
  const token = h.license({ sub: "hasty" });
  const releases = ["0.58.1", "0.59.2", "0.60.0"];
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => report(h, token, { release: releases[i % 3], state: "healthy", message: `at once ${i}` })));
  t.same(answers.map((a) => a.statusCode), Array(12).fill(202), "every report accepted");
  t.equal((await h.ctx.store.reports.currentOf(["hasty"])).length, 1, "one current report");
  t.equal((await h.ctx.store.reports.latestOf("hasty")).length, 3, "a latest row per release");
  t.equal((await h.ctx.store.reports.history("hasty")).length, 12, "every report in the history");
});
