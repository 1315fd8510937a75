// Promotion and rollback through the admin API (docs/api.md §3, promotion
// rules), on SQLite and PostgreSQL: the happy path from unstable to stable,
// every refusal, history and audit rows, all-or-nothing, and concurrency.
import t from "tap";
import type { Test } from "tap";
import { eachProvider } from "../../helpers/db.js";
import { testApp, type TestApp } from "../../helpers/app.js";
import { assertError, assertPlainError, call, createRelease, snapshot } from "./fixtures/admin-helpers.js";

interface Event {
  id: number;
  channel: string;
  action: string;
  fromVersion: string | null;
  toVersion: string | null;
  actor: string;
  reason: string | null;
  requestId: string | null;
  createdAt: string;
}

async function historyOf(t: Test, h: TestApp, channel: string): Promise<Event[]> {
  const res = await call(h, "GET", `/channels/${channel}/history?limit=200`, { role: "viewer" });
  t.equal(res.statusCode, 200, `history of ${channel}`);
  return res.json().items;
}

async function currentOf(h: TestApp, channel: string): Promise<string | null> {
  const res = await call(h, "GET", `/channels/${channel}`, { role: "viewer" });
  return res.json().release?.version ?? null;
}

async function specVersion(h: TestApp, channel: string): Promise<{ status: number; version?: string; tag?: string }> {
  const res = await h.poll(h.license({ channel }));
  if (res.statusCode !== 200) return { status: res.statusCode };
  const body = res.json();
  return { status: 200, version: body.metadata.version, tag: body.values?.app?.image?.tag };
}

function promote(h: TestApp, channel: string, body: Record<string, unknown>, opts: { sub?: string; requestId?: string } = {}) {
  return call(h, "POST", `/channels/${channel}/promote`, { body, role: "release-engineer", ...opts });
}

function rollback(h: TestApp, channel: string, body: Record<string, unknown>, opts: { sub?: string; requestId?: string } = {}) {
  return call(h, "POST", `/channels/${channel}/rollback`, { body, role: "release-engineer", ...opts });
}

await eachProvider(t, "promote a new release from unstable to stable", async (t, provider) => {
  const h = await testApp(t, { provider });

  const created = await call(h, "POST", "/releases", {
    body: {
      version: "0.61.0",
      chart: { url: "https://charts.example.com", name: "operator-wandb", version: "0.20.0" },
      images: { app: { repository: "wandb/local", tag: "0.61.0" } },
      values: { app: { replicas: 2 } },
      notes: "W&B Server 0.61.0",
    },
    role: "release-engineer",
    sub: "rel-eng@example.com",
    requestId: "req-create-0.61.0",
  });
  t.equal(created.statusCode, 201, "release created");
  t.match(created.json(), { version: "0.61.0", createdBy: "rel-eng@example.com", yanked: false, yankedAt: null, notes: "W&B Server 0.61.0" });
  t.equal(created.headers["x-request-id"], "req-create-0.61.0", "request id echoed");

  t.match(await specVersion(h, "unstable"), { status: 200, version: "0.60.0" }, "unstable spec before");
  t.match(await specVersion(h, "beta"), { status: 200, version: "0.59.2" }, "beta spec before");
  t.match(await specVersion(h, "stable"), { status: 200, version: "0.58.1" }, "stable spec before");

  // unstable: 0.60.0 → 0.61.0, guarded by expectedCurrent
  const toUnstable = await promote(h, "unstable", { release: "0.61.0", expectedCurrent: "0.60.0", reason: "CI green" }, { sub: "alice@example.com", requestId: "req-promote-unstable" });
  t.equal(toUnstable.statusCode, 200, toUnstable.body);
  t.match(toUnstable.json(), {
    changed: true,
    action: "promote",
    channel: "unstable",
    from: { version: "0.60.0", yanked: false },
    to: { version: "0.61.0", yanked: false },
    event: { action: "promote", channel: "unstable", fromVersion: "0.60.0", toVersion: "0.61.0", actor: "alice@example.com", reason: "CI green", requestId: "req-promote-unstable" },
  });
  t.match(await specVersion(h, "unstable"), { status: 200, version: "0.61.0", tag: "0.61.0" }, "unstable spec after");

  // beta from unstable
  const toBeta = await promote(h, "beta", { release: "0.61.0", from: "unstable", expectedCurrent: "0.59.2" }, { sub: "bob@example.com", requestId: "req-promote-beta" });
  t.equal(toBeta.statusCode, 200, toBeta.body);
  t.match(toBeta.json(), { changed: true, action: "promote", from: { version: "0.59.2" }, to: { version: "0.61.0" } });
  t.match(await specVersion(h, "beta"), { status: 200, version: "0.61.0", tag: "0.61.0" }, "beta spec after");
  t.match(await specVersion(h, "stable"), { status: 200, version: "0.58.1" }, "stable untouched so far");

  // stable from beta (by release id this time)
  const id = created.json().id as string;
  const toStable = await promote(h, "stable", { release: id, from: "beta", expectedCurrent: "0.58.1", reason: "soaked a week" }, { sub: "carol@example.com", requestId: "req-promote-stable" });
  t.equal(toStable.statusCode, 200, toStable.body);
  t.match(toStable.json(), { changed: true, action: "promote", from: { version: "0.58.1" }, to: { id, version: "0.61.0" } });
  t.match(await specVersion(h, "stable"), { status: 200, version: "0.61.0" }, "stable spec after");

  // history rows: newest first, with actor and request id
  const beta = await historyOf(t, h, "beta");
  t.match(beta[0], { channel: "beta", action: "promote", fromVersion: "0.59.2", toVersion: "0.61.0", actor: "bob@example.com", requestId: "req-promote-beta", reason: null });
  const stable = await historyOf(t, h, "stable");
  t.match(stable[0], { action: "promote", fromVersion: "0.58.1", toVersion: "0.61.0", actor: "carol@example.com", requestId: "req-promote-stable", reason: "soaked a week" });
  t.match(stable[1], { action: "declare", toVersion: "0.58.1" }, "the seed is below it");

  // GET /channels/:name shows the release and the recent history
  const channel = await call(h, "GET", "/channels/stable", { role: "viewer" });
  t.equal(channel.statusCode, 200);
  t.match(channel.json(), { name: "stable", release: { version: "0.61.0", yanked: false }, history: [{ toVersion: "0.61.0", actor: "carol@example.com" }] });

  // audit rows
  const audit = await call(h, "GET", "/audit?limit=10", { role: "viewer" });
  t.equal(audit.statusCode, 200);
  const items = audit.json().items as { action: string; actor: string; target: string; requestId: string | null; before: unknown; after: unknown; targetType: string }[];
  t.match(items[0], { action: "channel.promote", targetType: "channel", target: "stable", actor: "carol@example.com", requestId: "req-promote-stable", before: { release: "0.58.1" }, after: { release: "0.61.0", reason: "soaked a week" } });
  t.match(items[1], { action: "channel.promote", target: "beta", actor: "bob@example.com", requestId: "req-promote-beta", before: { release: "0.59.2" }, after: { release: "0.61.0" } });
  t.match(items[2], { action: "channel.promote", target: "unstable", actor: "alice@example.com", requestId: "req-promote-unstable", before: { release: "0.60.0" }, after: { release: "0.61.0", reason: "CI green" } });
  t.match(items[3], { action: "release.create", targetType: "release", target: "0.61.0", actor: "rel-eng@example.com", requestId: "req-create-0.61.0" });
});

await eachProvider(t, "promotion refusals change nothing", async (t, provider) => {
  const h = await testApp(t, { provider });
  await createRelease(t, h, "0.62.0");
  await createRelease(t, h, "0.63.0");
  const before = await snapshot(h);

  const cases: { name: string; channel: string; body: Record<string, unknown>; status: number; code: string; field?: string }[] = [
    { name: "expectedCurrent mismatch", channel: "beta", body: { release: "0.62.0", expectedCurrent: "0.58.1" }, status: 409, code: "PROMOTION_CONFLICT", field: "expectedCurrent" },
    { name: "expectedCurrent null on a channel with a release", channel: "beta", body: { release: "0.62.0", expectedCurrent: null }, status: 409, code: "PROMOTION_CONFLICT", field: "expectedCurrent" },
    { name: "expectedCurrent checked first, even for the current release", channel: "beta", body: { release: "0.59.2", expectedCurrent: "0.58.1" }, status: 409, code: "PROMOTION_CONFLICT", field: "expectedCurrent" },
    { name: "expectedCurrent checked before the downgrade rule", channel: "beta", body: { release: "0.58.1", expectedCurrent: "0.60.0" }, status: 409, code: "PROMOTION_CONFLICT", field: "expectedCurrent" },
    { name: "from: not that channel's release", channel: "stable", body: { release: "0.62.0", from: "beta" }, status: 409, code: "PROMOTION_REFUSED", field: "from" },
    { name: "from: unknown channel", channel: "stable", body: { release: "0.62.0", from: "nosuchchannel" }, status: 404, code: "CHANNEL_NOT_FOUND", field: "from" },
    { name: "downgrade refused", channel: "beta", body: { release: "0.58.1" }, status: 409, code: "DOWNGRADE_REFUSED", field: "release" },
    { name: "downgrade refused with allowDowngrade false", channel: "beta", body: { release: "0.58.1", allowDowngrade: false }, status: 409, code: "DOWNGRADE_REFUSED", field: "release" },
    { name: "unknown release", channel: "beta", body: { release: "9.9.9" }, status: 404, code: "RELEASE_NOT_FOUND", field: "release" },
  ];
  for (const c of cases) {
    const res = await promote(h, c.channel, c.body);
    assertError(t, res, c.status, c.code, c.field, c.name);
    t.same(await snapshot(h), before, `${c.name}: nothing changed`);
  }
  const unknownChannel = await promote(h, "nosuchchannel", { release: "0.62.0" });
  assertPlainError(t, unknownChannel, 404, "CHANNEL_NOT_FOUND", "unknown channel");
  t.same(await snapshot(h), before, "unknown channel: nothing changed");

  // yanked
  const yank = await call(h, "POST", "/releases/0.63.0/yank", { body: { reason: "data loss bug" }, role: "release-engineer", sub: "dave@example.com", requestId: "req-yank" });
  t.equal(yank.statusCode, 200);
  t.match(yank.json(), { version: "0.63.0", yanked: true, yankedBy: "dave@example.com", yankReason: "data loss bug" });
  t.type(yank.json().yankedAt, "string");
  const afterYank = await snapshot(h);
  t.equal(afterYank.audit.length, before.audit.length + 1, "yank audited");
  const yankAudit = await call(h, "GET", "/audit?action=release.yank", { role: "viewer" });
  t.match(yankAudit.json().items[0], { actor: "dave@example.com", target: "0.63.0", requestId: "req-yank", before: { yanked: false }, after: { yanked: true, reason: "data loss bug" } });

  const promoteYanked = await promote(h, "unstable", { release: "0.63.0" });
  assertError(t, promoteYanked, 409, "RELEASE_YANKED", "release", "promote a yanked release");
  const promoteYankedDown = await promote(h, "unstable", { release: "0.63.0", allowDowngrade: true, expectedCurrent: "0.60.0" });
  assertError(t, promoteYankedDown, 409, "RELEASE_YANKED", "release", "promote a yanked release with allowDowngrade");
  const rollbackToYanked = await rollback(h, "unstable", { to: "0.63.0", reason: "try" });
  assertError(t, rollbackToYanked, 409, "RELEASE_YANKED", "to", "roll back to a yanked release");
  const yankAgain = await call(h, "POST", "/releases/0.63.0/yank", { body: { reason: "again" }, role: "release-engineer" });
  assertPlainError(t, yankAgain, 409, "RELEASE_YANKED", "yank twice");
  const yankUnknown = await call(h, "POST", "/releases/9.9.9/yank", { body: { reason: "x" }, role: "release-engineer" });
  assertPlainError(t, yankUnknown, 404, "RELEASE_NOT_FOUND", "yank unknown");
  t.same(await snapshot(h), afterYank, "refusals after the yank changed nothing");
  t.match(await specVersion(h, "unstable"), { status: 200, version: "0.60.0" }, "spec unchanged");
});

await eachProvider(t, "downgrades, no-ops and rollbacks", async (t, provider) => {
  const h = await testApp(t, { provider });

  // re-promote the current release: 200, changed false, nothing written
  const s0 = await snapshot(h);
  const again = await promote(h, "stable", { release: "0.58.1", expectedCurrent: "0.58.1" });
  t.equal(again.statusCode, 200);
  t.match(again.json(), { changed: false, action: null, event: null, from: { version: "0.58.1" }, to: { version: "0.58.1" } });
  t.match(again.json().message, /already at 0\.58\.1/);
  const againById = await promote(h, "stable", { release: (await h.ctx.store.releases.findByRef("0.58.1"))!.id });
  t.equal(againById.statusCode, 200);
  t.equal(againById.json().changed, false);
  t.same(await snapshot(h), s0, "a no-op writes no history, no audit, no version bump");

  // downgrade refused, then allowed → recorded as a rollback
  const refused = await promote(h, "beta", { release: "0.58.1" });
  assertError(t, refused, 409, "DOWNGRADE_REFUSED", "release");
  t.same(await snapshot(h), s0, "refused downgrade changed nothing");
  const allowed = await promote(h, "beta", { release: "0.58.1", allowDowngrade: true, reason: "regression in 0.59.2" }, { sub: "erin@example.com", requestId: "req-downgrade" });
  t.equal(allowed.statusCode, 200, allowed.body);
  t.match(allowed.json(), { changed: true, action: "rollback", from: { version: "0.59.2" }, to: { version: "0.58.1" }, event: { action: "rollback" } });
  const betaHistory = await historyOf(t, h, "beta");
  t.match(betaHistory[0], { action: "rollback", fromVersion: "0.59.2", toVersion: "0.58.1", actor: "erin@example.com", requestId: "req-downgrade", reason: "regression in 0.59.2" });
  const downgradeAudit = await call(h, "GET", "/audit?target=beta", { role: "viewer" });
  t.match(downgradeAudit.json().items[0], { action: "channel.rollback", actor: "erin@example.com", requestId: "req-downgrade", before: { release: "0.59.2" }, after: { release: "0.58.1" } });
  t.match(await specVersion(h, "beta"), { status: 200, version: "0.58.1" });
  // the release before (0.59.2) is higher: a default rollback never goes up (issue #13)
  const upByDefault = await rollback(h, "beta", { reason: "undo the downgrade?" });
  assertError(t, upByDefault, 409, "PROMOTION_REFUSED", "to", "default rollback after a downgrade");
  t.match(await specVersion(h, "beta"), { status: 200, version: "0.58.1" }, "beta stays down");

  // rollback: unstable 0.60.0 → 0.61.0 → 0.62.0, then back down
  await createRelease(t, h, "0.61.0");
  await createRelease(t, h, "0.62.0");
  t.equal((await promote(h, "unstable", { release: "0.61.0" })).statusCode, 200);
  t.equal((await promote(h, "unstable", { release: "0.62.0" })).statusCode, 200);
  t.match(await specVersion(h, "unstable"), { status: 200, version: "0.62.0" });

  const rb1 = await rollback(h, "unstable", { reason: "0.62.0 breaks SSO" }, { sub: "frank@example.com", requestId: "req-rollback-1" });
  t.equal(rb1.statusCode, 200, rb1.body);
  t.match(rb1.json(), { changed: true, action: "rollback", from: { version: "0.62.0" }, to: { version: "0.61.0" }, event: { action: "rollback", actor: "frank@example.com", requestId: "req-rollback-1", reason: "0.62.0 breaks SSO" } });
  t.match(await specVersion(h, "unstable"), { status: 200, version: "0.61.0" }, "spec follows the rollback");

  const rb2 = await rollback(h, "unstable", { reason: "0.61.0 too" });
  t.equal(rb2.statusCode, 200, rb2.body);
  t.match(rb2.json(), { action: "rollback", from: { version: "0.61.0" }, to: { version: "0.60.0" } }, "a second rollback goes further down, not back to 0.62.0");

  const before3 = await snapshot(h);
  const rb3 = await rollback(h, "unstable", { reason: "nothing left" });
  assertError(t, rb3, 409, "PROMOTION_REFUSED", "to", "no earlier release");
  t.same(await snapshot(h), before3, "refused rollback changed nothing");

  // `to` goes only down, and only to a release the channel held (issue #13)
  const rbUp = await rollback(h, "unstable", { to: "0.61.0", reason: "pick one" });
  const up = assertError(t, rbUp, 409, "ROLLBACK_REFUSED", "to", "rollback to a higher release the channel held");
  t.match(up.message, /0\.61\.0 is not lower than 0\.60\.0.*promote it instead/);
  await createRelease(t, h, "0.55.0");
  const rbNeverHeld = await rollback(h, "unstable", { to: "0.55.0", reason: "older, never here" });
  const never = assertError(t, rbNeverHeld, 409, "ROLLBACK_REFUSED", "to", "rollback to a release the channel never held");
  t.match(never.message, /0\.55\.0 has never been the release of channel unstable/);
  const afterRefusals = await snapshot(h);
  t.same([afterRefusals.channels, afterRefusals.events], [before3.channels, before3.events], "refused rollbacks moved nothing");
  t.equal((await promote(h, "unstable", { release: "0.62.0" })).statusCode, 200, "back up by a promotion");
  const rbTo = await rollback(h, "unstable", { to: "0.60.0", reason: "pick one" }, { requestId: "req-rollback-to" });
  t.equal(rbTo.statusCode, 200, rbTo.body);
  t.match(rbTo.json(), { changed: true, action: "rollback", from: { version: "0.62.0" }, to: { version: "0.60.0" } }, "to skips 0.61.0");
  const rbSame = await rollback(h, "unstable", { to: "0.60.0", reason: "again" });
  t.equal(rbSame.statusCode, 200);
  t.equal(rbSame.json().changed, false, "rolling back to the current release changes nothing");
  const rbUnknown = await rollback(h, "unstable", { to: "9.9.9", reason: "x" });
  assertError(t, rbUnknown, 404, "RELEASE_NOT_FOUND", "to", "rollback to an unknown release");
  const rbNoChannel = await rollback(h, "nosuchchannel", { reason: "x" });
  assertPlainError(t, rbNoChannel, 404, "CHANNEL_NOT_FOUND");

  const unstable = await historyOf(t, h, "unstable");
  t.same(
    unstable.map((e) => [e.action, e.fromVersion, e.toVersion]),
    [
      ["rollback", "0.62.0", "0.60.0"],
      ["promote", "0.60.0", "0.62.0"],
      ["rollback", "0.61.0", "0.60.0"],
      ["rollback", "0.62.0", "0.61.0"],
      ["promote", "0.61.0", "0.62.0"],
      ["promote", "0.60.0", "0.61.0"],
      ["declare", null, "0.60.0"],
    ],
    "history: every change, newest first",
  );
  t.match(unstable[0], { requestId: "req-rollback-to" });
});

await eachProvider(t, "rollback skips a yanked release", async (t, provider) => {
  const h = await testApp(t, { provider });
  const ch = await call(h, "POST", "/channels", { body: { name: "canary", description: "rollback test" }, role: "admin" });
  t.equal(ch.statusCode, 201);
  t.match(ch.json(), { name: "canary", release: null, description: "rollback test" });
  t.match(await specVersion(h, "canary"), { status: 404 }, "an empty channel serves nothing");
  for (const v of ["1.0.0", "1.1.0", "1.2.0"]) {
    await createRelease(t, h, v);
    const res = await promote(h, "canary", { release: v });
    t.equal(res.statusCode, 200, `canary at ${v}`);
  }
  t.equal((await call(h, "POST", "/releases/1.1.0/yank", { body: { reason: "bad" }, role: "release-engineer" })).statusCode, 200);
  const rb = await rollback(h, "canary", { reason: "1.2.0 bad too" });
  t.equal(rb.statusCode, 200, rb.body);
  t.match(rb.json(), { action: "rollback", from: { version: "1.2.0" }, to: { version: "1.0.0" } }, "1.1.0 is yanked: back to 1.0.0");
  t.equal(await currentOf(h, "canary"), "1.0.0");
  t.match(await specVersion(h, "canary"), { status: 200, version: "1.0.0" });
});

await eachProvider(t, "all or nothing: a failure after the channel moved leaves no trace", async (t, provider) => {
  const h = await testApp(t, { provider });
  await createRelease(t, h, "0.61.0");
  const store = h.ctx.store;
  const original = store.transaction;
  t.teardown(() => {
    store.transaction = original;
  });

  for (const failing of ["events.add", "audit.add"] as const) {
    const before = await snapshot(h);
    let movedInside: string | null = null;
    store.transaction = (async (fn: Parameters<typeof original>[0], opts?: Parameters<typeof original>[1]) =>
      original.call(
        store,
        async (repos) =>
          fn({
            ...repos,
            channels: {
              ...repos.channels,
              async setRelease(id: string, releaseId: string, rowVersion: number) {
                const ok = await repos.channels.setRelease(id, releaseId, rowVersion);
                // Inside the transaction the channel has really moved.
                const c = (await repos.channels.list()).find((x) => x.id === id);
                movedInside = ok && c?.releaseId === releaseId ? releaseId : null;
                return ok;
              },
            },
            events: failing === "events.add" ? { ...repos.events, add: async () => { throw new Error("injected: history write failed"); } } : repos.events,
            audit: failing === "audit.add" ? { ...repos.audit, add: async () => { throw new Error("injected: audit write failed"); } } : repos.audit,
          }),
        opts,
      )) as typeof original;

    const res = await promote(h, "unstable", { release: "0.61.0", expectedCurrent: "0.60.0" });
    store.transaction = original;

    t.ok(movedInside, `${failing}: setRelease ran and moved the channel inside the transaction`);
    assertPlainError(t, res, 500, "INTERNAL", `${failing} failed`);
    t.notMatch(res.body, /injected/, "internal message not leaked");
    t.same(await snapshot(h), before, `${failing}: no channel move, no history, no audit, no version bump`);
    t.equal(await currentOf(h, "unstable"), "0.60.0");
    t.match(await specVersion(h, "unstable"), { status: 200, version: "0.60.0" }, "spec unchanged");
  }

  // and with the store intact the same promotion then succeeds
  const ok = await promote(h, "unstable", { release: "0.61.0", expectedCurrent: "0.60.0" });
  t.equal(ok.statusCode, 200, ok.body);
  t.equal(await currentOf(h, "unstable"), "0.61.0");
});

await eachProvider(t, "30 concurrent promotions with the same expectedCurrent: exactly one wins", async (t, provider) => {
  const h = await testApp(t, { provider });
  const N = 30;
  for (let i = 0; i < N; i++) await createRelease(t, h, `1.0.${i}`);
  const before = await snapshot(h);
  const unstable = before.channels.find((c) => c.name === "unstable")!;

  const results = await Promise.all(
    Array.from({ length: N }, (_, i) => promote(h, "unstable", { release: `1.0.${i}`, expectedCurrent: "0.60.0" }, { requestId: `req-race-${i}` })),
  );
  const statuses = results.map((r) => r.statusCode);
  t.notOk(statuses.includes(500), "never a 500");
  const winners = results.map((r, i) => ({ r, i })).filter(({ r }) => r.statusCode === 200);
  t.equal(winners.length, 1, `exactly one 200 (got ${JSON.stringify(statuses)})`);
  const losers = results.filter((r) => r.statusCode !== 200);
  t.equal(losers.length, N - 1, "29 refused");
  for (const r of losers) assertError(t, r, 409, "PROMOTION_CONFLICT", "expectedCurrent", "loser");

  const winner = winners[0]!;
  const version = `1.0.${winner.i}`;
  t.match(winner.r.json(), { changed: true, from: { version: "0.60.0" }, to: { version } });
  const after = await snapshot(h);
  const newEvents = after.events.filter((e) => !before.events.some((b) => b.id === e.id));
  t.equal(newEvents.length, 1, "exactly one new history entry");
  t.match(newEvents[0], { action: "promote", requestId: `req-race-${winner.i}` });
  t.equal(after.audit.length, before.audit.length + 1, "exactly one new audit entry");
  const after_unstable = after.channels.find((c) => c.name === "unstable")!;
  t.equal(after_unstable.rowVersion, unstable.rowVersion + 1, "the channel moved once");
  t.equal(await currentOf(h, "unstable"), version, "the channel is at the winner's release");
  t.match(await specVersion(h, "unstable"), { status: 200, version }, "and serves it");
});

await eachProvider(t, "concurrent promotions without expectedCurrent: never a 500, history matches the channel", async (t, provider) => {
  const h = await testApp(t, { provider });
  const N = 12;
  for (let i = 0; i < N; i++) await createRelease(t, h, `2.0.${i}`);
  const before = await snapshot(h);
  const results = await Promise.all(Array.from({ length: N }, (_, i) => promote(h, "beta", { release: `2.0.${i}` })));
  for (const r of results) {
    t.not(r.statusCode, 500, "never a 500");
    if (r.statusCode !== 200) t.ok(["WRITE_CONFLICT", "DOWNGRADE_REFUSED"].includes(r.json().code), `a refusal says why (${r.json().code})`);
  }
  const ok = results.filter((r) => r.statusCode === 200 && r.json().changed);
  t.ok(ok.length >= 1, "at least one moved the channel");
  const after = await snapshot(h);
  t.equal(after.events.length - before.events.length, ok.length, "one history row per successful move");
  const history = await historyOf(t, h, "beta");
  t.equal(history[0]!.toVersion, await currentOf(h, "beta"), "newest history row is the channel's release");
});
