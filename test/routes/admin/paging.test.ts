// Cursor paging of releases, channel history and audit: with limit=1 every
// page is walked newest first, each row exactly once, and the walk matches
// the database.
import t from "tap";
import type { Test } from "tap";
import { eachProvider } from "../../helpers/db.js";
import { testApp, type TestApp } from "../../helpers/app.js";
import { call, createRelease, sleep, snapshot } from "./fixtures/admin-helpers.js";

interface Row {
  id: string | number;
  createdAt: string;
}

/** Follows nextCursor from the first page to the last. */
async function walk<T extends Row>(t: Test, h: TestApp, path: string, limit: number): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const sep = path.includes("?") ? "&" : "?";
    const url: string = `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await call(h, "GET", url, { role: "viewer" });
    if (res.statusCode !== 200) {
      t.fail(`${url}: ${res.statusCode} ${res.body}`);
      return out;
    }
    const body = res.json() as { items: T[]; nextCursor: string | null };
    t.ok(body.items.length <= limit, `${url}: at most ${limit} items`);
    if (body.nextCursor !== null) t.equal(body.items.length, limit, `${url}: a page with a next page is full`);
    out.push(...body.items);
    cursor = body.nextCursor;
    if (cursor === null) return out;
  }
  t.fail(`${path}: no last page after 1000 pages`);
  return out;
}

function assertNoDuplicates(t: Test, ids: (string | number)[], what: string) {
  t.equal(new Set(ids).size, ids.length, `${what}: no duplicates`);
}

function assertNewestFirst(t: Test, rows: Row[], what: string) {
  for (let i = 1; i < rows.length; i++) {
    if (Date.parse(rows[i]!.createdAt) > Date.parse(rows[i - 1]!.createdAt)) {
      t.fail(`${what}: row ${i} is newer than row ${i - 1}`);
      return;
    }
  }
  t.pass(`${what}: newest first`);
}

await eachProvider(t, "limit=1 walks every page newest first, without duplicates or gaps", async (t, provider) => {
  const h = await testApp(t, { provider });
  // Distinct creation times, so "newest first" has one answer.
  const created: string[] = [];
  for (const v of ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0"]) {
    await sleep(3);
    created.push((await createRelease(t, h, v)).id);
    await sleep(3);
    const res = await call(h, "POST", "/channels/unstable/promote", { body: { release: v }, role: "release-engineer" });
    t.equal(res.statusCode, 200, `unstable at ${v}`);
  }
  // a rollback and a no-op in the history too
  t.equal((await call(h, "POST", "/channels/unstable/rollback", { body: { reason: "r" }, role: "release-engineer" })).statusCode, 200);
  const db = await snapshot(h);

  // releases
  const releases = await walk<Row & { version: string }>(t, h, "/releases", 1);
  const releaseIds = releases.map((r) => r.id);
  assertNoDuplicates(t, releaseIds, "releases");
  t.same([...releaseIds].sort(), db.releases.map((r) => r.id).sort(), "releases: every stored release, no gaps");
  assertNewestFirst(t, releases, "releases");
  t.same(releaseIds.slice(0, created.length), [...created].reverse(), "releases: the ones created last come first, in order");
  const all = await call(h, "GET", "/releases?limit=200", { role: "viewer" });
  t.same(all.json().items.map((r: Row) => r.id), releaseIds, "releases: the walk equals one big page");
  t.equal(all.json().nextCursor, null, "one big page has no next page");
  const byTwo = await walk<Row>(t, h, "/releases", 2);
  t.same(byTwo.map((r) => r.id), releaseIds, "releases: limit=2 walks the same order");

  // channel history
  const history = await walk<Row & { action: string; toVersion: string }>(t, h, "/channels/unstable/history", 1);
  const stored = (await h.ctx.store.events.allOf((await h.ctx.store.channels.findByName("unstable"))!.id)).map((e) => e.id);
  t.equal(history.length, 8, "history: declare + 6 promotions + 1 rollback");
  assertNoDuplicates(t, history.map((e) => e.id), "history");
  t.same(history.map((e) => e.id), [...stored].reverse(), "history: every event of the channel, newest first");
  t.same(history.map((e) => e.action), ["rollback", "promote", "promote", "promote", "promote", "promote", "promote", "declare"]);
  t.same(history.map((e) => e.toVersion), ["1.4.0", "1.5.0", "1.4.0", "1.3.0", "1.2.0", "1.1.0", "1.0.0", "0.60.0"]);
  assertNewestFirst(t, history, "history");
  const stable = await walk<Row>(t, h, "/channels/stable/history", 1);
  t.equal(stable.length, 1, "another channel's history is its own");

  // audit
  const audit = await walk<Row & { action: string }>(t, h, "/audit", 1);
  const auditIds = audit.map((e) => e.id as number);
  assertNoDuplicates(t, auditIds, "audit");
  t.same(auditIds, db.audit.map((e) => e.id), "audit: every entry, newest first");
  t.ok(auditIds.every((id, i) => i === 0 || id < auditIds[i - 1]!), "audit: ids strictly decreasing");
  assertNewestFirst(t, audit, "audit");
  const filtered = await walk<Row & { action: string; target: string }>(t, h, "/audit?target=unstable&action=channel.promote", 1);
  t.equal(filtered.length, 6, "audit filter: the six promotions of unstable");
  t.ok(filtered.every((e) => e.action === "channel.promote" && e.target === "unstable"), "audit filter: only matching entries");
  const byThree = await walk<Row>(t, h, "/audit", 3);
  t.same(byThree.map((e) => e.id), auditIds, "audit: limit=3 walks the same order");
});

await eachProvider(t, "a cursor survives inserts between pages", async (t, provider) => {
  const h = await testApp(t, { provider });
  const first = await call(h, "GET", "/audit?limit=2", { role: "viewer" });
  t.equal(first.statusCode, 200);
  const page1 = first.json();
  t.ok(page1.nextCursor, "there is a next page");
  await createRelease(t, h, "5.0.0"); // a new, newer audit row
  const second = await call(h, "GET", `/audit?limit=2&cursor=${encodeURIComponent(page1.nextCursor)}`, { role: "viewer" });
  t.equal(second.statusCode, 200);
  const ids1 = page1.items.map((e: Row) => e.id as number);
  const ids2 = second.json().items.map((e: Row) => e.id as number);
  t.ok(ids2.every((id: number) => id < Math.min(...ids1)), "the next page continues below the first, not shifted by the insert");

  const r1 = await call(h, "GET", "/releases?limit=1", { role: "viewer" });
  const cursor = r1.json().nextCursor as string;
  t.ok(cursor);
  await sleep(3);
  await createRelease(t, h, "5.1.0");
  const r2 = await call(h, "GET", `/releases?limit=10&cursor=${encodeURIComponent(cursor)}`, { role: "viewer" });
  t.equal(r2.statusCode, 200);
  const versions = r2.json().items.map((r: { version: string }) => r.version);
  t.notOk(versions.includes("5.1.0"), "a release created after the first page does not appear on later pages");
  t.notOk(versions.includes(r1.json().items[0].version), "the first page's release is not repeated");
});
