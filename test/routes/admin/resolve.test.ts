// GET /api/v1/admin/resolve (docs/api.md §7) over HTTP on both databases:
// for licensees with and without per-license values, on two channels, and
// for anonymous polls, the answer's release and ETag equal a real poll's
// (ETag header, metadata.releaseId) at that moment, before and after a
// promotion; the reasons say why; roles, bad input and the poll's 404s.
import t, { type Test } from "tap";
import type { LightMyRequestResponse } from "fastify";
import { eachProvider } from "../../helpers/db.js";
import { testApp, type TestApp } from "../../helpers/app.js";
import { assertError, createRelease } from "./fixtures/admin-helpers.js";
import type { ResolveDto } from "../../../src/routes/admin/dto/resolve.js";

function resolve(h: TestApp, query: string, token: string | null = h.adminToken("viewer")): Promise<LightMyRequestResponse> {
  return h.app.inject({ method: "GET", url: `/api/v1/admin/resolve?${query}`, headers: token ? { authorization: `Bearer ${token}` } : {} });
}

/** The poll's answer: its ETag header and the release it names. */
async function pollOf(h: TestApp, token: string | null): Promise<{ etag: string; releaseId: string; version: string }> {
  const res = token === null ? await h.app.inject({ method: "GET", url: "/api/v1/operator/channel" }) : await h.poll(token);
  if (res.statusCode !== 200) throw new Error(`poll: ${res.statusCode} ${res.body}`);
  const metadata = (res.json() as { metadata: Record<string, string> }).metadata;
  return { etag: res.headers.etag as string, releaseId: metadata.releaseId!, version: metadata.version! };
}

interface Licensee {
  sub: string;
  channel: string;
  token: string | null;
}

async function agrees(t: Test, h: TestApp, l: Licensee, query: string, what: string): Promise<ResolveDto> {
  const res = await resolve(h, query);
  t.equal(res.statusCode, 200, `${what}: 200`);
  const body = res.json() as ResolveDto;
  const poll = await pollOf(h, l.token);
  t.equal(body.sub, l.sub, `${what}: sub`);
  t.equal(body.channel, l.channel, `${what}: channel`);
  t.equal(body.etag, poll.etag, `${what}: the poll's ETag`);
  t.equal(body.release.id, poll.releaseId, `${what}: the poll's release id`);
  t.equal(body.release.version, poll.version, `${what}: the poll's version`);
  t.equal(body.reasons.filter((r) => r.rule === "channel" && r.detail.startsWith(`channel ${l.channel} is at ${poll.version}`)).length, 1, `${what}: the channel reason names the release`);
  return body;
}

await eachProvider(t, "resolve answers what each licensee's poll answers", async (t, provider) => {
  const h = await testApp(t, { provider, env: { ANONYMOUS_CHANNEL: "stable" } });
  const plain: Licensee = { sub: "customer-1", channel: "stable", token: h.license({ sub: "customer-1", channel: "stable" }) };
  const valued: Licensee = { sub: "acme corp/eu", channel: "stable", token: h.license({ sub: "acme corp/eu", channel: "stable" }) };
  const beta: Licensee = { sub: "beta-tester", channel: "beta", token: h.license({ sub: "beta-tester", channel: "beta" }) };
  const anonymous: Licensee = { sub: "(anonymous)", channel: "stable", token: null };
  const put = await h.admin("PUT", `/licenses/${encodeURIComponent(valued.sub)}/values`, { values: { app: { replicas: 3 } } });
  t.equal(put.statusCode, 200, "values set");

  const q = (l: Licensee, channel = true) => `sub=${encodeURIComponent(l.sub)}${channel ? `&channel=${l.channel}` : ""}`;
  for (const round of ["before", "after a promotion"]) {
    const p = await agrees(t, h, plain, q(plain), `${round}: plain`);
    t.same(p.reasons.map((r) => r.rule), ["channel"], `${round}: plain: only the channel`);
    const v = await agrees(t, h, valued, q(valued), `${round}: with values`);
    t.same(v.reasons.map((r) => r.rule), ["channel", "overrides"], `${round}: with values: named`);
    t.not(v.etag, p.etag, `${round}: per-license values have their own ETag`);
    const b = await agrees(t, h, beta, q(beta), `${round}: beta`);
    t.not(b.release.id, p.release.id, `${round}: beta serves another release`);
    const a = await agrees(t, h, anonymous, q(anonymous, false), `${round}: anonymous`);
    t.same(a.reasons.map((r) => r.rule), ["channel", "channel", "anonymous"], `${round}: anonymous: ANONYMOUS_CHANNEL, the channel, no values`);
    t.match(a.reasons[0]!.detail, /ANONYMOUS_CHANNEL, stable/);
    t.equal(a.etag, p.etag, `${round}: anonymous polls share the channel's spec`);
    // No channel given: LICENSE_DEFAULT_CHANNEL (stable), said so.
    const d = await agrees(t, h, plain, q(plain, false), `${round}: default channel`);
    t.equal(d.reasons[0]!.rule, "channel");
    t.match(d.reasons[0]!.detail, /no channel given: stable.*LICENSE_DEFAULT_CHANNEL/);
    if (round === "before") {
      await createRelease(t, h, "0.62.0");
      const promoted = await h.admin("POST", "/channels/stable/promote", { release: "0.62.0", reason: "resolve test" });
      t.equal(promoted.statusCode, 200, "promoted");
    }
  }
  t.equal((await resolve(h, q(plain))).json().release.version, "0.62.0", "after the promotion: the new release");

  // roles: a viewer is enough (above); no token or a bad one: 401
  assertError(t, await resolve(h, q(plain), null), 401, "ADMIN_UNAUTHORIZED", undefined, "no token");
  assertError(t, await resolve(h, q(plain), "not-a-token"), 401, "ADMIN_UNAUTHORIZED", undefined, "bad token");
  t.equal((await resolve(h, q(plain), h.adminToken("release-engineer"))).statusCode, 200, "release engineer");

  // bad input: 400 naming the field
  assertError(t, await resolve(h, "channel=stable"), 400, "VALIDATION_FAILED", "sub", "no sub");
  assertError(t, await resolve(h, "sub="), 400, "VALIDATION_FAILED", "sub", "empty sub");
  assertError(t, await resolve(h, "sub=a%00b"), 400, "VALIDATION_FAILED", "sub", "NUL in sub");
  assertError(t, await resolve(h, "sub=a%1Bb"), 400, "VALIDATION_FAILED", "sub", "ESC in sub");
  assertError(t, await resolve(h, `sub=${"x".repeat(257)}`), 400, "VALIDATION_FAILED", "sub", "sub too long");
  t.equal((await resolve(h, `sub=${"x".repeat(256)}`)).statusCode, 200, "a sub of 256 characters");
  assertError(t, await resolve(h, "sub=customer-1&channel=Stable"), 400, "VALIDATION_FAILED", "channel", "bad channel name");
  assertError(t, await resolve(h, "sub=customer-1&extra=1"), 400, "VALIDATION_FAILED", "extra", "unknown field");
  assertError(t, await resolve(h, "sub=(anonymous)&channel=beta"), 400, "VALIDATION_FAILED", "channel", "anonymous on another channel");
  t.equal((await resolve(h, "sub=(anonymous)&channel=stable")).statusCode, 200, "anonymous on its channel");

  // the poll's 404s
  assertError(t, await resolve(h, "sub=customer-1&channel=nope"), 404, "CHANNEL_NOT_FOUND", undefined, "no such channel");
  t.equal((await h.admin("POST", "/channels", { name: "empty" })).statusCode, 201);
  const empty = await resolve(h, "sub=customer-1&channel=empty");
  assertError(t, empty, 404, "CHANNEL_HAS_NO_RELEASE", undefined, "a channel with no release");
  const emptyPoll = await h.poll(h.license({ sub: "customer-1", channel: "empty" }));
  t.equal(emptyPoll.json().code, empty.json().code, "the same code as the poll");
});

t.test("without ANONYMOUS_CHANNEL, (anonymous) is refused and says why", async (t) => {
  const h = await testApp(t);
  const res = await resolve(h, "sub=(anonymous)");
  const body = assertError(t, res, 400, "VALIDATION_FAILED", "sub", "anonymous without ANONYMOUS_CHANNEL");
  t.match(body.message, /ANONYMOUS_CHANNEL is unset/);
  t.equal((await h.app.inject({ method: "GET", url: "/api/v1/operator/channel" })).statusCode, 401, "as the poll: no anonymous polls");
});
