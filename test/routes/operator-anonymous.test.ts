// Anonymous polls (docs/api.md §1, ANONYMOUS_CHANNEL): an operator with an
// empty license sends no Authorization header. Over a real socket, so that
// both halves of the poll pipeline answer them: the fastify route
// (src/routes/operator.ts) and the replay of its renderings
// (src/routes/poll-replay.ts).
import t from "tap";
import { ANONYMOUS_SUB } from "../../src/licensing/anonymous.js";
import { eachProvider } from "../helpers/db.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { PATH, basic, completedLines, get, live, metric, type Answer } from "../helpers/live-polls.js";

const anonymousPolls = (h: TestApp) => metric(h, /^chartroom_anonymous_polls_total (\d+)/m);
const verifications = (h: TestApp, outcome: string) => metric(h, new RegExp(`^chartroom_license_verifications_total\\{outcome="${outcome}"\\} (\\d+)`, "m"));

async function anonymousRow(h: TestApp) {
  await h.ctx.fleet.flush(true);
  const fleet = (await h.admin("GET", "/fleet", undefined, "viewer")).json() as { items: { sub: string; anonymous: boolean; pollCount: number; lastSeenAt: string; jti: string | null; licenseExpiresAt: string | null; channel: string }[] };
  return fleet.items.filter((i) => i.anonymous);
}

const ANONYMOUS = { ANONYMOUS_CHANNEL: "stable", OPERATOR_LOG_LEVEL: "info" };

await eachProvider(t, "a poll without Authorization gets the anonymous channel's spec, routed then replayed, in the fleet as one row and in /metrics", async (t, provider) => {
  const h = await testApp(t, { provider, env: ANONYMOUS, captureLogs: true });
  const base = await live(h);

  const first = await get(base);
  t.equal(first.status, 200, "no Authorization header: 200");
  const spec = JSON.parse(first.body);
  t.equal(spec.metadata.channel, "stable", "the anonymous channel's spec");
  t.equal(spec.metadata.version, "0.58.1");
  t.notOk(first.headers["www-authenticate"], "no challenge");
  t.match(first.headers.etag, /^"[A-Za-z0-9_-]{32}"$/, "a strong ETag");
  t.equal(first.headers["cache-control"], "no-cache");
  const licensed = await get(base, PATH, { authorization: basic(h.license({ sub: "paying", channel: "stable" })) });
  t.equal(licensed.body, first.body, "the same bytes as a licensee of the channel without values");

  const answers: Answer[] = [];
  for (let i = 0; i < 3; i++) answers.push(await get(base));
  for (const a of answers) {
    t.equal(a.status, 200);
    t.equal(a.body, first.body, "byte-identical");
    t.equal(a.headers.etag, first.headers.etag);
  }
  const etag = first.headers.etag!;
  for (let i = 0; i < 3; i++) {
    const nm = await get(base, PATH, { "if-none-match": etag });
    t.equal(nm.status, 304, "If-None-Match: 304");
    t.equal(nm.body, "");
  }
  // Licensed and anonymous renderings are confirmed apart: 2 + 2 routed 200s
  // (anonymous and the licensee's one), 2 routed 304s, the rest replayed.
  t.same(completedLines(h), [5, 3], "anonymous polls are replayed once two anonymous renderings agree");

  t.equal(await anonymousPolls(h), 7, "chartroom_anonymous_polls_total counts every anonymous answer");
  t.equal(await verifications(h, "anonymous"), 7, 'license verification outcome "anonymous"');
  t.equal(await verifications(h, "ok"), 1, "the licensee's poll is not anonymous");

  const rows = await anonymousRow(h);
  t.equal(rows.length, 1, "one anonymous row in the fleet");
  const row = rows[0]!;
  t.match(row, { sub: ANONYMOUS_SUB, channel: "stable", pollCount: 7, jti: null, licenseExpiresAt: null });
  await new Promise((r) => setTimeout(r, 20));
  t.equal((await get(base)).status, 200);
  const [after] = await anonymousRow(h);
  t.equal(after?.pollCount, 8, "the poll count advances");
  t.ok(Date.parse(after!.lastSeenAt) > Date.parse(row.lastSeenAt), `last seen advances (${row.lastSeenAt} → ${after?.lastSeenAt})`);
});

t.test("anonymous polls never get per-license values, even where values exist for the reserved name", async (t) => {
  const h = await testApp(t, { env: ANONYMOUS });
  const base = await live(h);
  // Stored before the name was reserved (the admin API refuses it now, below).
  await h.ctx.store.licenses.setOverride(ANONYMOUS_SUB, { leaked: "per-license value" }, "test");
  await h.ctx.specs.loadOverrides();
  for (let i = 0; i < 3; i++) {
    const spec = JSON.parse((await get(base)).body);
    t.notOk("leaked" in spec.values, `poll ${i + 1}: no per-license values`);
    t.not(spec.metadata.licenseOverrides, "true");
  }
  const put = await h.admin("PUT", `/licenses/${encodeURIComponent(ANONYMOUS_SUB)}/values`, { values: { a: 1 } });
  t.equal(put.statusCode, 400, "the admin API refuses values for the reserved name");
  t.match(put.json().message, /reserved for anonymous polls/);
  const issue = await h.admin("POST", "/licenses", { sub: ANONYMOUS_SUB, channel: "stable" });
  t.equal(issue.statusCode, 400, "and a license for it");
  t.equal((await h.admin("DELETE", `/licenses/${encodeURIComponent(ANONYMOUS_SUB)}/values`)).statusCode, 204, "values stored before can still be removed");
});

t.test("only a missing header is anonymous: pinned releases, bad or reserved credentials stay 401", async (t) => {
  const h = await testApp(t, { env: ANONYMOUS });
  const base = await live(h);
  for (let i = 0; i < 3; i++) t.equal((await get(base)).status, 200, "anonymous (and replayed after two)");

  const pinned = await get(base, `${PATH}/release/0.58.1`);
  t.equal(pinned.status, 401, "a pinned release without Authorization");
  t.equal(JSON.parse(pinned.body).code, "LICENSE_MISSING");
  t.equal(pinned.headers["www-authenticate"], 'Basic realm="chartroom"');
  const injected = await h.app.inject({ url: `${PATH}/release/0.58.1` });
  t.equal(injected.json().code, "LICENSE_MISSING", "routed too");

  const cases: [string, string, string][] = [
    ["garbage Bearer", "Bearer garbage", "LICENSE_MALFORMED"],
    ["empty Basic password (an empty license sent anyway)", `Basic ${Buffer.from("license:").toString("base64")}`, "LICENSE_MALFORMED"],
    ["an empty header", "", "LICENSE_MISSING"],
    ["a license for the reserved name", basic(h.license({ sub: ANONYMOUS_SUB })), "LICENSE_CLAIMS_INVALID"],
  ];
  for (const [name, authorization, code] of cases) {
    for (const via of ["socket", "inject"]) {
      const res = via === "socket" ? await get(base, PATH, { authorization }) : await h.app.inject({ url: PATH, headers: { authorization } }).then((r) => ({ status: r.statusCode, body: r.body }));
      t.equal(res.status, 401, `${name} (${via}): 401`);
      t.equal(JSON.parse(res.body).code, code, `${name} (${via}): ${code}`);
    }
  }
  await h.ctx.fleet.flush(true);
  t.same((await h.ctx.store.fleet.list()).map((r) => [r.sub, r.pollCount]), [[ANONYMOUS_SUB, 3]], "refusals are not anonymous polls");
});

t.test("anonymous polls are limited per client IP, routed and replayed, on one count", async (t) => {
  const h = await testApp(t, { env: { ...ANONYMOUS, TRUST_PROXY: "loopback", RATE_LIMIT_IP_PER_MINUTE: "4" }, captureLogs: true });
  const base = await live(h);
  const from = (ip: string, extra: Record<string, string> = {}) => get(base, PATH, { "x-forwarded-for": ip, ...extra });

  // A caller's X-Request-Id keeps a poll on the route: two routed, two replayed, then refused.
  const statuses: number[] = [];
  for (let i = 0; i < 2; i++) statuses.push((await from("198.51.100.1", { "x-request-id": `routed-${i}` })).status);
  for (let i = 0; i < 2; i++) statuses.push((await from("198.51.100.1")).status);
  t.same(completedLines(h), [2, 2], "two routed, two replayed");
  const limited = await from("198.51.100.1");
  statuses.push(limited.status);
  t.same(statuses, [200, 200, 200, 200, 429], "the fifth poll from one address is refused");
  t.equal(JSON.parse(limited.body).code, "RATE_LIMITED");
  t.ok(Number(limited.headers["retry-after"]) >= 1, `Retry-After ${limited.headers["retry-after"]}`);
  t.equal((await from("198.51.100.1", { "x-request-id": "routed-late" })).status, 429, "routed too");

  const other = await from("198.51.100.2");
  t.equal(other.status, 200, "another client (by X-Forwarded-For, as fastify sees it) is not limited");
  t.same(completedLines(h), [4, 3], "and was replayed (the two refusals were rendered by the route)");
  t.equal(await metric(h, /^chartroom_rate_limited_total\{limit="ip"\} (\d+)/m), 2, "refusals counted per IP");
  t.equal(await anonymousPolls(h), 5, "refused polls are not answered polls");
});

t.test("the per-IP limit holds before any rendering is replayed", async (t) => {
  const h = await testApp(t, { env: { ...ANONYMOUS, RATE_LIMIT_IP_PER_MINUTE: "1" }, captureLogs: true });
  const base = await live(h);
  t.same([(await get(base)).status, (await get(base)).status], [200, 429]);
  t.same(completedLines(h), [2, 0], "both on the route: one rendering is never replayed");
});

t.test("without ANONYMOUS_CHANNEL a poll without Authorization is a 401 LICENSE_MISSING, as before", async (t) => {
  const h = await testApp(t);
  const base = await live(h);
  for (let i = 0; i < 3; i++) {
    const res = await get(base);
    t.equal(res.status, 401);
    t.equal(JSON.parse(res.body).code, "LICENSE_MISSING");
    t.equal(res.headers["www-authenticate"], 'Basic realm="chartroom"');
  }
  t.equal((await h.app.inject({ url: PATH })).json().code, "LICENSE_MISSING", "routed too");
  t.equal(await verifications(h, "LICENSE_MISSING"), 4);
  t.equal(await anonymousPolls(h), 0);
  t.same(await anonymousRow(h), [], "no anonymous row");
});

t.test("an ANONYMOUS_CHANNEL that does not exist: a warning at start, then the channel's 404", async (t) => {
  const h = await testApp(t, { env: { ANONYMOUS_CHANNEL: "nightly" }, captureLogs: true });
  const warning = h.logs.map((l) => JSON.parse(l) as { level: number; msg: string; anonymousChannel?: string; code?: string }).find((l) => l.anonymousChannel === "nightly");
  t.equal(warning?.level, 40, "a warning");
  t.equal(warning?.code, "CHANNEL_NOT_FOUND");
  t.match(warning?.msg, /ANONYMOUS_CHANNEL/);
  const res = await h.app.inject({ url: PATH });
  t.equal(res.statusCode, 404);
  t.equal(res.json().code, "CHANNEL_NOT_FOUND");
});

t.test("ANONYMOUS_CHANNEL must be a channel name", async (t) => {
  const { loadConfig, ConfigError } = await import("../../src/config.js");
  t.throws(() => loadConfig({ ANONYMOUS_CHANNEL: "Not A Channel" }), ConfigError);
  t.equal(loadConfig({ ANONYMOUS_CHANNEL: "" }).ANONYMOUS_CHANNEL, undefined, "empty: unset");
  t.equal(loadConfig({ ANONYMOUS_CHANNEL: "stable" }).ANONYMOUS_CHANNEL, "stable");
});
