// The operator endpoints as the W&B operator's deployer client uses them.
import { createHmac, generateKeyPairSync } from "node:crypto";
import t from "tap";
import { eachProvider } from "../helpers/db.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { b64url, jwt } from "../licensing/fixtures/jwt.js";
import { decodeAsOperator } from "../helpers/operator-decoder.js";

function nowSec() {
  return Math.floor(Date.now() / 1000);
}

async function createAndPromote(h: TestApp, release: object, channel: string) {
  const created = await h.admin("POST", "/releases", release, "release-engineer");
  if (created.statusCode !== 201) throw new Error(`create failed: ${created.body}`);
  const promoted = await h.admin("POST", `/channels/${channel}/promote`, { release: (release as { version: string }).version }, "release-engineer");
  if (promoted.statusCode !== 200) throw new Error(`promote failed: ${promoted.body}`);
}

await eachProvider(t, "the spec decodes the way the operator decodes it, for all three chart kinds", async (t, provider) => {
  const h = await testApp(t, { provider });
  // Repo chart: the sample channel.
  const repo = await h.poll(h.license({ channel: "stable" }));
  t.equal(repo.statusCode, 200);
  const r = decodeAsOperator(repo.body);
  t.equal(r.chartKind, "repo");
  t.same(r.chart, { url: "https://charts.wandb.ai", name: "operator-wandb", version: "0.17.4" });
  t.equal(r.metadata.version, "0.58.1");
  t.equal(r.metadata.channel, "stable");
  t.match(r.metadata.releasedAt, /^\d{4}-\d\d-\d\dT/);
  for (const [k, v] of Object.entries(JSON.parse(repo.body).metadata)) t.equal(typeof v, "string", `metadata.${k} is a string`);
  t.same((r.values.app as { image: unknown }).image, { repository: "wandb/local", tag: "0.58.1" }, "image tag rendered into values");
  t.equal((r.values.mysql as { install: boolean }).install, false, "channel default values present");

  // OCI chart.
  await createAndPromote(h, { version: "0.61.0", chart: { url: "oci://registry.example.com/charts/operator-wandb", version: "0.20.0" }, images: { app: { repository: "wandb/local", tag: "0.61.0" } } }, "unstable");
  const oci = decodeAsOperator((await h.poll(h.license({ channel: "unstable" }))).body);
  t.equal(oci.chartKind, "oci");
  t.same(oci.chart, { url: "oci://registry.example.com/charts/operator-wandb", version: "0.20.0" });

  // Local chart.
  await createAndPromote(h, { version: "0.62.0", chart: { path: "/charts/operator-wandb-0.21.0.tgz" } }, "unstable");
  const local = decodeAsOperator((await h.poll(h.license({ channel: "unstable" }))).body);
  t.equal(local.chartKind, "local");
  t.same(local.chart, { path: "/charts/operator-wandb-0.21.0.tgz" });
});

t.test("values merge: channel defaults, release values, image tags, in that order", async (t) => {
  const h = await testApp(t);
  await h.admin("POST", "/channels", { name: "merge", defaultValues: { a: { keep: 1, over: "channel" }, app: { image: { tag: "from-channel", pullPolicy: "Always" } }, list: [1, 2] } });
  await createAndPromote(h, { version: "1.0.0", chart: { url: "https://charts.example.com", name: "c", version: "1.0.0" }, values: { a: { over: "release" }, list: [3] }, images: { app: { repository: "r/app", tag: "1.0.0" } } }, "merge");
  const spec = JSON.parse((await h.poll(h.license({ channel: "merge" }))).body);
  t.same(spec.values, { a: { keep: 1, over: "release" }, app: { image: { tag: "1.0.0", pullPolicy: "Always", repository: "r/app" } }, list: [3] });
});

t.test("the operator's request: Content-Type on a GET, Basic license:, Bearer too", async (t) => {
  const h = await testApp(t);
  const token = h.license();
  const basic = await h.poll(token);
  t.equal(basic.statusCode, 200);
  const bearer = await h.app.inject({ url: "/api/v1/operator/channel", headers: { authorization: `Bearer ${token}` } });
  t.equal(bearer.statusCode, 200);
  t.equal(bearer.body, basic.body, "same spec either way");
  t.equal(basic.headers["cache-control"], "no-cache");
  t.match(basic.headers.etag, /^"[A-Za-z0-9_-]+"$/, "strong ETag");
});

t.test("ETag and If-None-Match", async (t) => {
  const h = await testApp(t);
  const token = h.license();
  const first = await h.poll(token);
  const etag = String(first.headers.etag);
  const again = await h.poll(token, undefined, { "if-none-match": etag });
  t.equal(again.statusCode, 304);
  t.equal(again.body, "");
  t.equal(again.headers.etag, etag);
  t.equal((await h.poll(token, undefined, { "if-none-match": `"other", ${etag}` })).statusCode, 304, "a list of tags");
  t.equal((await h.poll(token, undefined, { "if-none-match": `W/${etag}` })).statusCode, 304, "weak comparison");
  t.equal((await h.poll(token, undefined, { "if-none-match": '"stale"' })).statusCode, 200);
  // After a promotion the tag changes and the old one no longer matches.
  await h.admin("POST", "/channels/stable/promote", { release: "0.59.2" }, "release-engineer");
  const after = await h.poll(token, undefined, { "if-none-match": etag });
  t.equal(after.statusCode, 200);
  t.not(after.headers.etag, etag);
  t.equal(JSON.parse(after.body).metadata.version, "0.59.2", "the next poll sees the promotion (cache invalidated)");
});

await eachProvider(t, "pinning and entitlement", async (t, provider) => {
  const h = await testApp(t, { provider });
  const stable = h.license({ channel: "stable" });
  const pin = (ref: string) => h.poll(stable, `/api/v1/operator/channel/release/${ref}`);
  const current = await pin("0.58.1");
  t.equal(current.statusCode, 200, "the channel's release can be pinned");
  t.equal(JSON.parse(current.body).metadata.pinned, "true");
  const byId = await pin(JSON.parse(current.body).metadata.releaseId);
  t.equal(byId.statusCode, 200, "by id too");
  const notYet = await pin("0.59.2");
  t.equal(notYet.statusCode, 403, "a release never on stable");
  t.equal(notYet.json().code, "RELEASE_NOT_ENTITLED");
  t.equal((await pin("9.9.9")).json().code, "RELEASE_NOT_FOUND");
  t.equal((await pin("9.9.9")).statusCode, 404);
  // Once it has been stable's release, it stays pinnable after stable moves on.
  await h.admin("POST", "/channels/stable/promote", { release: "0.59.2" }, "release-engineer");
  await h.admin("POST", "/channels/stable/promote", { release: "0.60.0" }, "release-engineer");
  t.equal((await pin("0.59.2")).statusCode, 200, "held before, still pinnable");
  // Yanked: never pinned again.
  await h.admin("POST", "/releases/0.59.2/yank", { reason: "bad migration" }, "release-engineer");
  const yanked = await pin("0.59.2");
  t.equal(yanked.statusCode, 403);
  t.equal(yanked.json().code, "RELEASE_YANKED");
});

t.test("a channel that does not exist or has no release is a 404 with a code", async (t) => {
  const h = await testApp(t);
  const missing = await h.poll(h.license({ channel: "nightly" }));
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, "CHANNEL_NOT_FOUND");
  await h.admin("POST", "/channels", { name: "empty" });
  const empty = await h.poll(h.license({ channel: "empty" }));
  t.equal(empty.statusCode, 404);
  t.equal(empty.json().code, "CHANNEL_HAS_NO_RELEASE");
  // And the cached 404 goes away once the channel gets a release.
  await h.admin("POST", "/channels/empty/promote", { release: "0.58.1" }, "release-engineer");
  t.equal((await h.poll(h.license({ channel: "empty" }))).statusCode, 200);
});

t.test("the default channel applies to a license without a channel claim", async (t) => {
  const h = await testApp(t, { env: { LICENSE_DEFAULT_CHANNEL: "beta" } });
  const key = h.ctx.signingKey!;
  const token = jwt({ alg: key.alg, kid: key.kid, typ: "JWT" }, { sub: "no-channel", exp: nowSec() + 600 }, key.privateKey, key.alg);
  const res = await h.poll(token);
  t.equal(res.statusCode, 200);
  t.equal(JSON.parse(res.body).metadata.channel, "beta");
});

t.test("revocation is checked on every request, even for a cached license", async (t) => {
  const h = await testApp(t);
  const token = h.license({ jti: "lic-42" });
  t.equal((await h.poll(token)).statusCode, 200, "verified and cached");
  await h.ctx.store.licenses.revoke({ jti: "lic-42", reason: "contract ended", revokedBy: "test", revokedAt: new Date() });
  await h.ctx.revocations.reload();
  const res = await h.poll(token);
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, "LICENSE_REVOKED");
});

t.test("polls are recorded in the fleet with one write per licensee per flush window", async (t) => {
  const h = await testApp(t);
  const a = h.license({ sub: "acme" });
  for (let i = 0; i < 20; i++) await h.poll(a);
  await h.poll(h.license({ sub: "globex", channel: "beta" }));
  const writes: string[] = [];
  const original = h.ctx.store.fleet.recordMany;
  h.ctx.store.fleet.recordMany = async (batch) => {
    writes.push(...batch.map((p) => p.sub));
    return original(batch);
  };
  await h.ctx.fleet.flush();
  for (let i = 0; i < 5; i++) await h.poll(a);
  await h.ctx.fleet.flush();
  t.same(writes.sort(), ["acme", "globex"], "one write each; the later polls wait for the next minute");
  const rows = await h.ctx.store.fleet.list();
  const acme = rows.find((r) => r.sub === "acme")!;
  t.equal(acme.pollCount, 20);
  t.equal(acme.releaseVersion, "0.58.1");
  t.equal(acme.userAgent, "Go-http-client/1.1");
  t.equal(rows.find((r) => r.sub === "globex")!.releaseVersion, "0.59.2");
  await h.ctx.fleet.flush(true);
  t.equal((await h.ctx.store.fleet.list()).find((r) => r.sub === "acme")!.pollCount, 25, "nothing lost");
});

// ---- hostile tokens over HTTP -------------------------------------------

function hostileTable(h: TestApp): [string, string | undefined, string][] {
  const key = h.ctx.signingKey!;
  const good = { sub: "mallory", channel: "stable", exp: nowSec() + 600, jti: "m1" };
  const header = { alg: key.alg, kid: key.kid, typ: "JWT" };
  const valid = h.license();
  const [hd, pl, sig] = valid.split(".") as [string, string, string];
  const foreign = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = key.publicJwk;
  const basic = (s: string) => `Basic ${Buffer.from(s).toString("base64")}`;
  const bearer = (tok: string) => `Bearer ${tok}`;
  const unsigned = (alg: string) => `${b64url({ alg, kid: key.kid })}.${b64url(good)}.`;
  return [
    ["no Authorization header", undefined, "LICENSE_MISSING"],
    ["alg none", bearer(unsigned("none")), "LICENSE_MALFORMED"],
    ["alg NONE with a signature", bearer(`${b64url({ alg: "NONE", kid: key.kid })}.${b64url(good)}.${sig}`), "LICENSE_ALG_NOT_ALLOWED"],
    ["alg None", bearer(unsigned("None")), "LICENSE_MALFORMED"],
    ["stripped signature", bearer(`${hd}.${pl}.`), "LICENSE_MALFORMED"],
    ["truncated signature", bearer(`${hd}.${pl}.${sig.slice(0, 20)}`), "LICENSE_BAD_SIGNATURE"],
    ["tampered payload", bearer(`${hd}.${b64url({ ...good, sub: "someone-else" })}.${sig}`), "LICENSE_BAD_SIGNATURE"],
    ["HS256 with the public key as secret", bearer((() => { const i = `${b64url({ alg: "HS256", kid: key.kid })}.${b64url(good)}`; return `${i}.${createHmac("sha256", JSON.stringify(pem)).update(i).digest("base64url")}`; })()), "LICENSE_ALG_NOT_ALLOWED"],
    ["foreign key with a known kid", bearer(jwt(header, good, foreign.privateKey, "ES256")), "LICENSE_BAD_SIGNATURE"],
    ["unknown kid", bearer(jwt({ ...header, kid: "nope" }, good, key.privateKey, key.alg)), "LICENSE_UNKNOWN_KID"],
    ["kid path traversal", bearer(jwt({ ...header, kid: "../../../etc/passwd" }, good, key.privateKey, key.alg)), "LICENSE_UNKNOWN_KID"],
    ["jku pointing elsewhere", bearer(jwt({ ...header, jku: "https://evil.example/jwks.json" }, good, foreign.privateKey, "ES256")), "LICENSE_BAD_SIGNATURE"],
    ["x5u pointing elsewhere", bearer(jwt({ ...header, x5u: "https://evil.example/cert.pem" }, good, foreign.privateKey, "ES256")), "LICENSE_BAD_SIGNATURE"],
    ["embedded jwk", bearer(jwt({ ...header, jwk: foreign.publicKey.export({ format: "jwk" }) }, good, foreign.privateKey, "ES256")), "LICENSE_BAD_SIGNATURE"],
    ["unknown crit", bearer(jwt({ ...header, crit: ["exp"] }, good, key.privateKey, key.alg)), "LICENSE_MALFORMED"],
    ["ES256 all-zero signature", bearer(`${hd}.${pl}.${b64url(Buffer.alloc(64))}`), "LICENSE_BAD_SIGNATURE"],
    ["ES256 short signature", bearer(`${hd}.${pl}.${b64url(Buffer.alloc(8, 1))}`), "LICENSE_BAD_SIGNATURE"],
    ["lowercase alg", bearer(jwt({ ...header, alg: "es256" }, good, key.privateKey, key.alg)), "LICENSE_ALG_NOT_ALLOWED"],
    ["expired", bearer(jwt(header, { ...good, exp: nowSec() - 120 }, key.privateKey, key.alg)), "LICENSE_EXPIRED"],
    ["nbf in the future", bearer(jwt(header, { ...good, nbf: nowSec() + 600 }, key.privateKey, key.alg)), "LICENSE_NOT_YET_VALID"],
    ["no exp", bearer(jwt(header, { sub: "mallory" }, key.privateKey, key.alg)), "LICENSE_CLAIMS_INVALID"],
    ["no sub", bearer(jwt(header, { exp: nowSec() + 600 }, key.privateKey, key.alg)), "LICENSE_CLAIMS_INVALID"],
    ["oversized", bearer(jwt(header, { ...good, pad: "x".repeat(9000) }, key.privateKey, key.alg)), "LICENSE_TOO_LARGE"],
    ["garbage", bearer("garbage"), "LICENSE_MALFORMED"],
    ["two segments", bearer(`${hd}.${pl}`), "LICENSE_MALFORMED"],
    ["five segments", bearer(`${hd}.${pl}.${sig}.${sig}.${sig}`), "LICENSE_MALFORMED"],
    ["wrong Basic user", basic(`admin:${valid}`), "LICENSE_MALFORMED"],
    ["empty Basic password", basic("license:"), "LICENSE_MALFORMED"],
    ["non-base64 Basic", "Basic %%%not-base64%%%", "LICENSE_MALFORMED"],
    ["admin token used as a license", bearer(h.adminToken("admin")), "LICENSE_ALG_NOT_ALLOWED"],
    ["unknown scheme", `Digest ${valid}`, "LICENSE_MALFORMED"],
  ];
}

t.test("hostile tokens: every one a 401 with WWW-Authenticate and a code, never 200 or 5xx", async (t) => {
  const h = await testApp(t, { captureLogs: true });
  const rows = hostileTable(h);
  t.ok(rows.length >= 30, `${rows.length} rows`);
  for (const [name, authorization, code] of rows) {
    const res = await h.app.inject({ url: "/api/v1/operator/channel", headers: authorization ? { authorization } : {} });
    t.equal(res.statusCode, 401, `${name}: 401`);
    t.equal(res.headers["www-authenticate"], 'Basic realm="chartroom"', `${name}: WWW-Authenticate`);
    const body = res.json();
    t.equal(body.code, code, `${name}: ${code}`);
    t.same(Object.keys(body).sort(), ["code", "error", "message", "statusCode"], `${name}: error shape`);
    if (authorization) t.notOk(res.body.includes(authorization.split(" ")[1]!.slice(0, 40)), `${name}: token not echoed`);
  }
  const after = await h.poll(h.license());
  t.equal(after.statusCode, 200, "a good license still gets 200 afterwards");
});

t.test("logs never contain a token, a signature or a Basic credential", async (t) => {
  const h = await testApp(t, { captureLogs: true, env: { OPERATOR_LOG_LEVEL: "trace" } });
  const secrets: string[] = [];
  for (const [, authorization] of hostileTable(h)) {
    if (!authorization) continue;
    await h.app.inject({ url: "/api/v1/operator/channel", headers: { authorization } });
    const cred = authorization.split(" ")[1]!;
    secrets.push(cred);
    for (const part of cred.split(".")) if (part.length >= 16) secrets.push(part);
  }
  const good = h.license();
  await h.poll(good);
  await h.poll(good, "/api/v1/operator/channel/release/0.58.1");
  secrets.push(good, good.split(".")[2]!, Buffer.from(`license:${good}`).toString("base64"));
  const admin = h.adminToken("admin");
  await h.app.inject({ url: "/api/v1/admin/channels", headers: { authorization: `Bearer ${admin}` } });
  await h.app.inject({ url: "/api/v1/admin/channels", headers: { authorization: `Bearer ${admin}x` } });
  secrets.push(admin, admin.split(".")[2]!);
  const log = h.logs.join("");
  t.ok(h.logs.length > 20, `logging was on (${h.logs.length} lines)`);
  const leaked = secrets.filter((s) => log.includes(s));
  t.same(leaked, [], "no secret in the log");
});

t.test("the operator path logs no line per successful poll by default, but logs failures", async (t) => {
  const h = await testApp(t, { captureLogs: true });
  const before = h.logs.length;
  for (let i = 0; i < 5; i++) await h.poll(h.license());
  t.equal(h.logs.length, before, "no request lines for good polls");
  h.ctx.store.channels.findByName = async () => {
    throw new Error("boom");
  };
  await h.poll(h.license({ channel: "never-cached" }));
  t.ok(h.logs.slice(before).some((l) => l.includes('"request failed"')), "a 500 is logged");
});

t.test("before the first load (revocations unknown) a poll is a 503 NOT_READY, not a 200", async (t) => {
  const h = await testApp(t, { captureLogs: true, env: { OPERATOR_LOG_LEVEL: "info" } });
  const token = h.license();
  h.ctx.health.loaded = false;
  const res = await h.poll(token);
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, "NOT_READY");
  t.ok(res.headers["retry-after"], "with Retry-After");
  const lines = h.logs.map((l) => JSON.parse(l) as { level: number; code?: string; msg: string }).filter((l) => l.code === "NOT_READY");
  t.ok(lines.length > 0, "logged");
  t.ok(lines.every((l) => l.level < 50), "as a refusal, not as an error with a stack (a starting replica refuses many)");
  h.ctx.health.loaded = true;
  t.equal((await h.poll(token)).statusCode, 200, "served once loaded");
});
