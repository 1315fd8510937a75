// GET /fleet with limit/cursor/q (by sub ascending, each licensee once) and
// the whole fleet without limit as before; GET /audit with actor, since and
// until (docs/api.md §3, §15).
import t from "tap";
import { eachProvider } from "../../helpers/db.js";
import { testApp } from "../../helpers/app.js";
import { assertError, call, sleep } from "./fixtures/admin-helpers.js";
import type { PollSummary } from "../../../src/repositories/fleet-repo.js";

function poll(sub: string, i: number): PollSummary {
  const at = Date.UTC(2026, 0, 1) + i * 1000;
  return { sub, channel: i % 2 ? "stable" : "beta", releaseId: null, releaseVersion: null, jti: null, licenseExp: null, userAgent: "ua", firstSeenAt: at, lastSeenAt: at, polls: 1 };
}

await eachProvider(t, "the fleet in pages of 100: each of 250 licensees once, by sub; q narrows; bad cursors are 400", async (t, provider) => {
  const h = await testApp(t, { provider });
  // Recorded out of order, so sub order is not insertion order.
  const subs = Array.from({ length: 250 }, (_, i) => `lic-${String((i * 7919) % 250).padStart(3, "0")}`);
  await h.ctx.store.fleet.recordMany(subs.map((s, i) => poll(s, i)));
  const expected = [...subs].sort();

  const seen: string[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 10; pages++) {
    const res = await call(h, "GET", `/fleet?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { role: "viewer" });
    t.equal(res.statusCode, 200, `page ${pages}`);
    const body = res.json() as { items: { sub: string }[]; nextCursor: string | null; distribution: Record<string, Record<string, number>> };
    t.same(body.distribution, { beta: { none: 125 }, stable: { none: 125 } }, "the distribution counts the whole fleet, not the page");
    sizes.push(body.items.length);
    seen.push(...body.items.map((i) => i.sub));
    cursor = body.nextCursor;
    if (cursor === null) break;
  }
  t.same(sizes, [100, 100, 50], "three pages: 100, 100, 50");
  t.same(seen, expected, "every sub once, ascending");

  const whole = await call(h, "GET", "/fleet", { role: "viewer" });
  const wb = whole.json() as { items: { sub: string; lastSeenAt: string }[] };
  t.equal(wb.items.length, 250, "without limit: the whole fleet");
  t.notOk("nextCursor" in wb, "without limit: no nextCursor, the answer as before");
  t.equal(wb.items[0]!.sub, subs[249], "without limit: newest check-in first, as before");

  const q = await call(h, "GET", "/fleet?limit=1000&q=LIC-2", { role: "viewer" });
  const qb = q.json() as { items: { sub: string }[]; nextCursor: string | null };
  t.same(qb.items.map((i) => i.sub), expected.filter((s) => s.startsWith("lic-2")), "q matches a substring, ASCII case folded");
  t.equal(qb.nextCursor, null, "one page: no next");
  const q2 = await call(h, "GET", "/fleet?limit=5&q=-24", { role: "viewer" });
  t.same(q2.json().items.map((i: { sub: string }) => i.sub), ["lic-240", "lic-241", "lic-242", "lic-243", "lic-244"], "q inside the sub, with a page");
  const q3 = await call(h, "GET", `/fleet?limit=5&q=-24&cursor=${encodeURIComponent(q2.json().nextCursor)}`, { role: "viewer" });
  t.same(q3.json().items.map((i: { sub: string }) => i.sub), ["lic-245", "lic-246", "lic-247", "lic-248", "lic-249"], "the next page of a search");
  t.equal(q3.json().nextCursor, null, "the last page of a search");
  assertError(t, await call(h, "GET", "/fleet?limit=10&cursor=bm90IGEgY3Vyc29y!", { role: "viewer" }), 400, "VALIDATION_FAILED", "cursor", "a cursor that is not base64url");
  assertError(t, await call(h, "GET", `/fleet?limit=10&cursor=${Buffer.from("a\u0001b").toString("base64url")}`, { role: "viewer" }), 400, "VALIDATION_FAILED", "cursor", "a cursor holding a control character");
  assertError(t, await call(h, "GET", `/fleet?cursor=${Buffer.from("lic-100").toString("base64url")}`, { role: "viewer" }), 400, "VALIDATION_FAILED", "cursor", "a cursor without limit");
  assertError(t, await call(h, "GET", "/fleet?limit=0", { role: "viewer" }), 400, "VALIDATION_FAILED", "limit", "limit 0");
  assertError(t, await call(h, "GET", "/fleet?limit=1001", { role: "viewer" }), 400, "VALIDATION_FAILED", "limit", "limit 1001");
  assertError(t, await call(h, "GET", `/fleet?q=${"a".repeat(257)}`, { role: "viewer" }), 400, "VALIDATION_FAILED", "q", "q too long");
});

await eachProvider(t, "q finds % _ and \\ as themselves, with and without a page, with the other filters", async (t, provider) => {
  const h = await testApp(t, { provider });
  const old = Date.UTC(2026, 0, 1);
  const fresh = Date.now();
  const entries: [string, string, number][] = [
    ["acme_corp", "stable", old], ["acmeXcorp", "stable", old], ["ACME_CORP-eu", "beta", fresh],
    ["50%off", "stable", old], ["5000off", "stable", old],
    ["back\\slash", "beta", old], ["backslash", "beta", old],
  ];
  await h.ctx.store.fleet.recordMany(entries.map(([sub, channel, at]) => ({ ...poll(sub, 0), channel, firstSeenAt: at, lastSeenAt: at })));
  const subs = async (query: string) => {
    const res = await call(h, "GET", `/fleet?${query}`, { role: "viewer" });
    t.equal(res.statusCode, 200, `${query}: ${res.statusCode} ${res.body.slice(0, 200)}`);
    const body = res.json() as { items: { sub: string }[]; distribution: Record<string, Record<string, number>> };
    return { subs: body.items.map((i) => i.sub).sort(), distribution: body.distribution };
  };
  const q = encodeURIComponent;
  for (const paged of ["&limit=10", ""]) {
    t.same((await subs(`q=${q("acme_corp")}${paged}`)).subs, ["ACME_CORP-eu", "acme_corp"], `${paged || "no page"}: _ is an underscore (not acmeXcorp), ASCII case folded`);
    t.same((await subs(`q=${q("%")}${paged}`)).subs, ["50%off"], `${paged || "no page"}: % is a percent sign`);
    t.same((await subs(`q=${q("0%o")}${paged}`)).subs, ["50%off"], `${paged || "no page"}: % inside`);
    t.same((await subs(`q=${q("\\")}${paged}`)).subs, ["back\\slash"], `${paged || "no page"}: \\ is a backslash`);
    t.same((await subs(`q=${q("k\\s")}${paged}`)).subs, ["back\\slash"], `${paged || "no page"}: \\ inside`);
    t.same((await subs(`q=${q("_")}${paged}`)).subs, ["ACME_CORP-eu", "acme_corp"], `${paged || "no page"}: a lone _`);
  }
  const counted = await subs(`q=${q("_")}&limit=1`);
  t.same(counted.distribution, { stable: { none: 1 }, beta: { none: 1 } }, "the distribution of a search counts what it finds");
  t.same((await subs(`q=${q("acme_")}&channel=stable`)).subs, ["acme_corp"], "q with channel");
  t.same((await subs(`q=${q("acme_")}&notSeenForHours=1`)).subs, ["acme_corp"], "q with notSeenForHours (the fresh one is left out)");
  t.same((await subs(`q=${q("acme_")}&notSeenForHours=1&limit=5`)).subs, ["acme_corp"], "q with notSeenForHours and a page");
  const first = await call(h, "GET", `/fleet?q=${q("_")}&limit=1`, { role: "viewer" });
  t.same(first.json().items.map((i: { sub: string }) => i.sub), [["ACME_CORP-eu", "acme_corp"].sort()[0]], "a page of one");
  const second = await call(h, "GET", `/fleet?q=${q("_")}&limit=1&cursor=${q(first.json().nextCursor)}`, { role: "viewer" });
  t.same(second.json().items.map((i: { sub: string }) => i.sub), [["ACME_CORP-eu", "acme_corp"].sort()[1]], "the next page of a search for _");
  t.equal(second.json().nextCursor, null, "and the last");
});

await eachProvider(t, "the audit log by actor, since and until", async (t, provider) => {
  const h = await testApp(t, { provider });
  const create = async (name: string, sub: string) => t.equal((await call(h, "POST", "/channels", { body: { name }, role: "admin", sub })).statusCode, 201, `${name} by ${sub}`);
  await create("aone", "alice");
  await sleep(20);
  const mark = new Date().toISOString();
  await sleep(20);
  await create("btwo", "bob");
  await create("athree", "alice");

  const all = (await call(h, "GET", "/audit?limit=200", { role: "viewer" })).json().items as { actor: string; target: string; createdAt: string }[];
  const aliceActor = all.find((e) => e.target === "aone")!.actor;
  const bobActor = all.find((e) => e.target === "btwo")!.actor;
  t.not(aliceActor, bobActor, "two actors");

  const byAlice = (await call(h, "GET", `/audit?actor=${encodeURIComponent(aliceActor)}`, { role: "viewer" })).json().items as { actor: string; target: string }[];
  t.same(byAlice.map((e) => e.target), ["athree", "aone"], "actor: only alice's entries, newest first");
  const prefix = (await call(h, "GET", `/audit?actor=${encodeURIComponent(aliceActor.slice(0, -1))}`, { role: "viewer" })).json().items;
  t.same(prefix, [], "actor is exact, not a prefix");
  const paged = await call(h, "GET", `/audit?actor=${encodeURIComponent(aliceActor)}&limit=1`, { role: "viewer" });
  t.same(paged.json().items.map((e: { target: string }) => e.target), ["athree"], "actor with a page");
  const next = await call(h, "GET", `/audit?actor=${encodeURIComponent(aliceActor)}&limit=1&cursor=${encodeURIComponent(paged.json().nextCursor)}`, { role: "viewer" });
  t.same(next.json().items.map((e: { target: string }) => e.target), ["aone"], "the next page keeps the actor filter");

  const since = (await call(h, "GET", `/audit?since=${encodeURIComponent(mark)}`, { role: "viewer" })).json().items as { target: string }[];
  t.same(since.map((e) => e.target), ["athree", "btwo"], "since: the entries at or after the mark");
  const until = (await call(h, "GET", `/audit?until=${encodeURIComponent(mark)}`, { role: "viewer" })).json().items as { target: string }[];
  t.ok(until.some((e) => e.target === "aone") && !until.some((e) => e.target === "btwo" || e.target === "athree"), "until: only the entries before the mark");
  const both = (await call(h, "GET", `/audit?actor=${encodeURIComponent(aliceActor)}&since=${encodeURIComponent(mark)}&until=2999-01-01T00:00:00Z`, { role: "viewer" })).json().items as { target: string }[];
  t.same(both.map((e) => e.target), ["athree"], "actor and since together");

  assertError(t, await call(h, "GET", "/audit?since=yesterday", { role: "viewer" }), 400, "VALIDATION_FAILED", "since", "since not a date-time");
  assertError(t, await call(h, "GET", "/audit?until=2026-13-01T00:00:00Z", { role: "viewer" }), 400, "VALIDATION_FAILED", "until", "until not a date");
  assertError(t, await call(h, "GET", "/audit?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", { role: "viewer" }), 400, "VALIDATION_FAILED", "until", "until before since");
});
