import t from "tap";
import { migrate } from "../../src/db/migrate.js";
import { createStore } from "../../src/repositories/store.js";
import { eachProvider, freshDatabase } from "../helpers/db.js";

await eachProvider(t, "bulk poll records: inserted, then summed; dates round-trip through Prisma", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  await migrate(url);
  const store = await createStore(url);
  t.teardown(() => store.close());
  const first = new Date(Date.UTC(2026, 10, 29, 10, 0, 0, 123));
  const later = new Date(Date.UTC(2026, 10, 29, 11, 30, 0, 456));
  const polls = Array.from({ length: 450 }, (_, i) => ({
    sub: `lic-${i}`, channel: i % 2 ? "beta" : "stable", releaseId: null, releaseVersion: "1.0.0", jti: `j${i}`,
    licenseExp: 1_900_000_000, userAgent: "Go-http-client/1.1", firstSeenAt: first.getTime(), lastSeenAt: first.getTime(), polls: 2,
  }));
  await store.fleet.recordMany(polls);
  await store.fleet.recordMany([{ ...polls[7]!, releaseVersion: "1.1.0", lastSeenAt: later.getTime(), firstSeenAt: later.getTime(), polls: 3, userAgent: "new" }]);
  const rows = await store.fleet.list();
  t.equal(rows.length, 450, "every licensee, across several statements");
  const r7 = rows.find((r) => r.sub === "lic-7")!;
  t.equal(r7.pollCount, 5, "polls summed");
  t.equal(r7.releaseVersion, "1.1.0", "latest release kept");
  t.equal(r7.userAgent, "new");
  t.equal(r7.firstSeenAt.getTime(), first.getTime(), "first seen kept, to the millisecond");
  t.equal(r7.lastSeenAt.getTime(), later.getTime(), "last seen updated, to the millisecond");
  t.equal(r7.licenseExpiresAt?.getTime(), 1_900_000_000_000);
  t.equal(rows[0]!.sub, "lic-7", "newest check-in first");
  const silent = await store.fleet.list({ seenBefore: new Date(first.getTime() + 1) });
  t.equal(silent.length, 449, "date filters work on the written values");
  const dist = await store.fleet.distribution();
  t.same(dist.sort((a, b) => `${a.channel}${a.releaseVersion}`.localeCompare(`${b.channel}${b.releaseVersion}`)), [
    { channel: "beta", releaseVersion: "1.0.0", licensees: 224 },
    { channel: "beta", releaseVersion: "1.1.0", licensees: 1 },
    { channel: "stable", releaseVersion: "1.0.0", licensees: 225 },
  ]);
  const silentBeta = await store.fleet.distribution({ channel: "beta", seenBefore: new Date(first.getTime() + 1) });
  t.same(silentBeta, [{ channel: "beta", releaseVersion: "1.0.0", licensees: 224 }], "counted with the list's filters");
});

t.test("SQLite: a fleet batch waits out another process's write lock, without blocking the event loop", async (t) => {
  const url = await freshDatabase(t, "sqlite");
  await migrate(url);
  const store = await createStore(url);
  t.teardown(() => store.close());
  const { default: Database } = await import("better-sqlite3");
  const other = new Database(url.replace(/^file:/, ""));
  t.teardown(() => other.close());
  const poll = {
    sub: "busy-1", channel: "stable", releaseId: null, releaseVersion: "1.0.0", jti: "j", licenseExp: 1_900_000_000,
    userAgent: null, firstSeenAt: Date.now(), lastSeenAt: Date.now(), polls: 1,
  };

  // Another process (a cluster worker, the CLI) holds the write lock for 60 ms.
  other.exec("BEGIN IMMEDIATE");
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  setTimeout(() => other.exec("COMMIT"), 60);
  await store.fleet.recordMany([poll]);
  clearInterval(ticker);
  t.equal((await store.fleet.list()).length, 1, "written once the lock was released");
  t.ok(ticks >= 3, `the event loop ran while it waited (${ticks} ticks of 5 ms)`);

  // Held for longer than the retries: the batch fails (the recorder keeps it).
  other.exec("BEGIN IMMEDIATE");
  t.teardown(() => other.inTransaction && other.exec("ROLLBACK"));
  await t.rejects(store.fleet.recordMany([{ ...poll, sub: "busy-2" }]), { code: "DATABASE_BUSY" }, "as the catalogue's DATABASE_BUSY");
  other.exec("ROLLBACK");
  t.equal((await store.fleet.list()).length, 1);
});

t.test("SQLite: the store's connection keeps SQLite's own 2 MB page cache, not better-sqlite3's 16 MB", async (t) => {
  const url = await freshDatabase(t, "sqlite");
  await migrate(url);
  const store = await createStore(url);
  t.teardown(() => store.close());
  const { SQLITE_CACHE_KIB } = await import("../../src/repositories/store.js");
  t.equal(Number(await store.pragma("cache_size")), -SQLITE_CACHE_KIB);
  t.equal(SQLITE_CACHE_KIB, 2000);
});

await eachProvider(t, "times beyond what a column stores are clamped before writing; a row with no time is refused whole", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  await migrate(url);
  const store = await createStore(url);
  t.teardown(() => store.close());
  const at = Date.UTC(2026, 10, 29, 10, 0, 0);
  const row = (sub: string, licenseExp: number | null) => ({
    sub, channel: "stable", releaseId: null, releaseVersion: "1.0.0", jti: null, licenseExp, userAgent: null, firstSeenAt: at, lastSeenAt: at, polls: 1,
  });
  const exps: [string, number | null, string | null][] = [
    ["max-safe", Number.MAX_SAFE_INTEGER, "9999-12-31T23:59:59.999Z"],
    ["1e20", 1e20, "9999-12-31T23:59:59.999Z"],
    ["1e308", 1e308, "9999-12-31T23:59:59.999Z"],
    ["infinity", Infinity, "9999-12-31T23:59:59.999Z"],
    ["nan", NaN, null],
    ["far-past", -1e308, "1970-01-01T00:00:00.000Z"],
    ["normal", 1_900_000_000, "2030-03-17T17:46:40.000Z"],
    ["none", null, null],
  ];
  await store.fleet.recordMany(exps.map(([sub, exp]) => row(sub, exp)));
  const rows = await store.fleet.list();
  t.equal(rows.length, exps.length, "one batch, every row written");
  for (const [sub, exp, stored] of exps) {
    t.equal(rows.find((r) => r.sub === sub)?.licenseExpiresAt?.toISOString() ?? null, stored, `licenseExp ${exp} → ${stored}`);
  }

  const err = await store.fleet.recordMany([row("fine", null), { ...row("no-time", null), lastSeenAt: NaN }]).catch((e: unknown) => e as Error);
  t.match(err, { name: "RangeError", message: /fleet entry "no-time": lastSeenAt is not a time/ }, "the row and the field named");
  t.notOk((await store.fleet.list()).some((r) => r.sub === "fine"), "nothing of the refused batch written");
});

t.test("containsPattern: a LIKE pattern (ESCAPE '\\') in which % _ \\ are themselves", async (t) => {
  const { containsPattern } = await import("../../src/repositories/fleet-repo.js");
  for (const [q, want] of [["acme", "%acme%"], ["acme_corp", "%acme\\_corp%"], ["50%", "%50\\%%"], ["a\\b", "%a\\\\b%"], ["\\%_", "%\\\\\\%\\_%"]] as const) {
    t.equal(containsPattern(q), want, q);
  }
});

await eachProvider(t, "a search over more entries than one IN list: every match, newest first, counted", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  await migrate(url);
  const store = await createStore(url);
  t.teardown(() => store.close());
  const at = Date.UTC(2026, 10, 29);
  await store.fleet.recordMany(Array.from({ length: 1200 }, (_, i) => ({
    sub: i % 2 ? `odd_${String(i).padStart(4, "0")}` : `even-${String(i).padStart(4, "0")}`, channel: "stable", releaseId: null, releaseVersion: i % 3 ? "1.0.0" : null, jti: null,
    licenseExp: null, userAgent: null, firstSeenAt: at + i, lastSeenAt: at + i, polls: 1,
  })));
  const found = await store.fleet.list({ subContains: "D_" });
  t.equal(found.length, 600, "the 600 odd_ subs (ASCII case folded), over two IN lists");
  t.equal(found[0]!.sub, "odd_1199", "newest check-in first");
  t.ok(found.every((r, i) => i === 0 || r.lastSeenAt.getTime() <= found[i - 1]!.lastSeenAt.getTime()), "in order");
  t.same((await store.fleet.distribution({ subContains: "d_" })).sort((a, b) => String(a.releaseVersion).localeCompare(String(b.releaseVersion))), [
    { channel: "stable", releaseVersion: "1.0.0", licensees: 400 },
    { channel: "stable", releaseVersion: null, licensees: 200 },
  ], "counted by release");
  t.equal((await store.fleet.page({ subContains: "_1" }, { limit: 10 })).items.length, 10, "a page of a search");
});

await eachProvider(t, "upgrade-path columns: since and the release before; an older summary changes nothing but the count", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  await migrate(url);
  const store = await createStore(url);
  t.teardown(() => store.close());
  const at = (min: number) => Date.UTC(2026, 11, 1, 12, min);
  const base = { sub: "site", channel: "stable", jti: null, licenseExp: null, userAgent: "op", firstSeenAt: at(0), polls: 1 };
  const write = (releaseId: string, lastMin: number, sinceMin: number) => store.fleet.recordMany([{ ...base, releaseId, releaseVersion: releaseId, lastSeenAt: at(lastMin), releaseSince: at(sinceMin) }]);
  const row = async () => (await store.fleet.find("site"))!;

  await write("0.58.1", 0, 0);
  t.match(await row(), { releaseId: "0.58.1", previousReleaseId: null });
  await write("0.59.2", 10, 9);
  t.match(await row(), { releaseId: "0.59.2", previousReleaseId: "0.58.1", previousReleaseVersion: "0.58.1" }, "another release: the stored one becomes the release before");
  t.equal((await row()).releaseSince?.getTime(), at(9));
  await write("0.59.2", 12, 8);
  t.equal((await row()).releaseSince?.getTime(), at(8), "the same release: the earliest since of the replicas'");
  t.equal((await row()).previousReleaseId, "0.58.1", "and the release before is kept");
  // A replica's late summary of an older poll: counted, nothing else.
  await write("0.58.1", 5, 0);
  const r = await row();
  t.match(r, { releaseId: "0.59.2", previousReleaseId: "0.58.1" }, "an older summary does not move the release back");
  t.equal(r.lastSeenAt.getTime(), at(12), "nor lastSeenAt");
  t.equal(r.releaseSince?.getTime(), at(8));
  t.equal(r.pollCount, 4, "its polls are counted");
});
