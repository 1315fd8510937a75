import t from "tap";
import { fleetRecorder } from "../../src/services/fleet-recorder.js";
import type { PollSummary } from "../../src/repositories/fleet-repo.js";
import { DatabaseBusyError, DatabaseUnavailableError } from "../../src/errors.js";
import { migrate } from "../../src/db/migrate.js";
import { createStore } from "../../src/repositories/store.js";
import { eachProvider, freshDatabase } from "../helpers/db.js";
import { testApp } from "../helpers/app.js";

const poll = (sub: string) => ({ sub, channel: "stable", releaseId: "r1", releaseVersion: "1.0.0", jti: null, licenseExp: null, userAgent: "ua" });

t.test("at most one write per licensee per interval; nothing lost; memory bounded", async (t) => {
  let now = 0;
  const writes: PollSummary[] = [];
  const rec = fleetRecorder({ write: async (batch) => void writes.push(...batch.map((p) => ({ ...p }))), minIntervalMs: 60_000, now: () => now });
  for (let i = 0; i < 10; i++) rec.record(poll("a"));
  rec.record(poll("b"));
  await rec.flush();
  t.same(writes.map((w) => [w.sub, w.polls]), [["a", 10], ["b", 1]]);
  now = 30_000;
  for (let i = 0; i < 5; i++) rec.record(poll("a"));
  await rec.flush();
  t.equal(writes.length, 2, "a was written 30 s ago: not again yet");
  now = 61_000;
  await rec.flush();
  t.same(writes.slice(2).map((w) => [w.sub, w.polls]), [["a", 5]], "the held polls are written once the minute is up");
  now = 200_000;
  await rec.flush();
  t.equal(rec.stats().remembered, 0, "licensees quiet for longer than the interval are forgotten");
});

t.test("a write failed because the database is unavailable or busy keeps the polls for the next flush", async (t) => {
  for (const Transient of [DatabaseUnavailableError, DatabaseBusyError]) {
    let fail = true;
    let attempts = 0;
    const writes: PollSummary[] = [];
    const rec = fleetRecorder({ write: async (batch) => { attempts++; if (fail) throw new Transient(); writes.push(...batch); }, minIntervalMs: 0 });
    rec.record(poll("a"));
    rec.record(poll("a"));
    rec.record(poll("b"));
    await rec.flush();
    t.equal(writes.length, 0);
    t.equal(attempts, 1, `${Transient.name}: one attempt, no splitting of the batch`);
    rec.record(poll("a"));
    fail = false;
    await rec.flush();
    t.same(writes.map((w) => [w.sub, w.polls]), [["a", 3], ["b", 1]], "the failed polls and the newer one, merged");
    t.equal(rec.stats().refused, 0);
  }
});

/** A write that refuses, as the database would, any batch holding a poisoned row (and records the batches it took). */
function refusingWrite(poisoned: (p: PollSummary) => boolean) {
  const state = { attempts: 0, written: [] as PollSummary[] };
  const write = async (batch: PollSummary[]) => {
    state.attempts++;
    const bad = batch.find(poisoned);
    if (bad) throw new RangeError(`Invalid time value (${bad.sub})`);
    state.written.push(...batch.map((p) => ({ ...p })));
  };
  return { state, write };
}

t.test("one bad row never fails its batch: the others are written, the bad one refused once, not retried forever", async (t) => {
  const { state, write } = refusingWrite((p) => p.sub === "bad");
  const refused: [string, string][] = [];
  const rec = fleetRecorder({ write, minIntervalMs: 0, onRefused: (err, s) => refused.push([s.sub, (err as Error).message]) });
  for (let i = 0; i < 399; i++) rec.record(poll(`lic-${i}`));
  rec.record(poll("bad"));
  await rec.flush();
  t.equal(state.written.length, 399, "every other licensee of the batch written");
  t.same(refused, [["bad", "Invalid time value (bad)"]], "the bad row reported, with the reason");
  t.ok(state.attempts <= 1 + 2 * Math.ceil(Math.log2(400)), `found by bisection: ${state.attempts} writes for a batch of 400`);
  t.match(rec.stats(), { pending: 0, writes: 399, refused: 1 });

  const before = state.attempts;
  await rec.flush();
  t.equal(state.attempts, before, "nothing pending: the bad row is not retried");
  // Recovery: the next polls, the bad licensee's too, are written as usual.
  rec.record(poll("lic-1"));
  rec.record(poll("bad"));
  await rec.flush();
  t.same(state.written.slice(399).map((w) => w.sub), ["lic-1"], "later polls are recorded");
  t.equal(refused.length, 2, "a bad licensee's new row is tried (alone, after one batch write) and refused again");
});

t.test("several bad rows, and a database that refuses everything: bounded writes per flush, nothing given up", async (t) => {
  const some = refusingWrite((p) => p.sub.endsWith("7"));
  const rec = fleetRecorder({ write: some.write, minIntervalMs: 0 });
  for (let i = 0; i < 40; i++) rec.record(poll(`lic-${i}`));
  await rec.flush();
  t.equal(some.state.written.length, 36, "4 bad rows among 40: the 36 others written");
  t.equal(rec.stats().refused, 4);

  let refuseAll = true;
  const all = refusingWrite(() => refuseAll);
  const rec2 = fleetRecorder({ write: all.write, minIntervalMs: 0 });
  for (let i = 0; i < 1000; i++) rec2.record(poll(`lic-${i}`));
  await rec2.flush();
  // 3 batches: one first write each, then 64 isolation writes in all for the flush.
  t.ok(all.state.attempts <= 3 + 64, `a systematic refusal costs ${all.state.attempts} writes per flush, not 2 per row`);
  t.match(rec2.stats(), { pending: 1000, refused: 0 }, "no row of a batch stored: the database refuses everything, not a row, so every poll is kept");
  const before = all.state.attempts;
  await rec2.flush();
  t.ok(all.state.attempts - before <= 3 + 64, `the next flush is bounded too (${all.state.attempts - before} writes)`);
  t.match(rec2.stats(), { pending: 1000, refused: 0 }, "still kept");
  refuseAll = false;
  await rec2.flush();
  t.equal(new Set(all.state.written.map((p) => p.sub)).size, 1000, "once the database takes writes again every licensee is written");
});

t.test("a database that becomes unavailable while a batch is bisected: what was written stays written, the rest waits", async (t) => {
  let down = false;
  let wentDown = false;
  const written: string[] = [];
  const rec = fleetRecorder({
    minIntervalMs: 0,
    write: async (batch) => {
      if (down) throw new DatabaseUnavailableError();
      if (batch.some((p) => p.sub === "bad")) {
        if (batch.length < 8 && !wentDown) down = wentDown = true; // goes down mid-isolation, once
        throw new RangeError("Invalid time value");
      }
      written.push(...batch.map((p) => p.sub));
    },
  });
  for (let i = 0; i < 31; i++) rec.record(poll(`lic-${i}`));
  rec.record(poll("bad"));
  await rec.flush();
  const firstRound = written.length;
  t.ok(firstRound > 0 && firstRound < 31, `some halves written before the outage (${firstRound})`);
  t.equal(rec.stats().pending, 32 - firstRound, "every row not written is kept, the bad one too");
  t.equal(rec.stats().refused, 0, "nothing given up because of an outage");
  down = false;
  await rec.flush();
  t.equal(new Set(written).size, 31, "after recovery every good row is written, none twice");
  t.equal(written.length, 31);
  t.equal(rec.stats().refused, 1);
});

t.test("the shutdown flush writes everything but the bad row", async (t) => {
  const { state, write } = refusingWrite((p) => p.sub === "bad");
  const rec = fleetRecorder({ write, minIntervalMs: 60_000, tickMs: 60_000 });
  rec.start();
  for (let i = 0; i < 10; i++) rec.record(poll(`lic-${i}`));
  rec.record(poll("bad"));
  await rec.stop();
  t.equal(state.written.length, 10);
  t.match(rec.stats(), { pending: 0, writes: 10, refused: 1 });
});

t.test("flushes that pile up behind a slow write neither double-write nor lose polls", async (t) => {
  let release: () => void = () => {};
  const writes: PollSummary[] = [];
  let slow = true;
  const rec = fleetRecorder({
    write: async (batch) => {
      writes.push(...batch.map((p) => ({ ...p })));
      if (slow) await new Promise<void>((r) => (release = r));
    },
    minIntervalMs: 0,
  });
  rec.record(poll("a"));
  rec.record(poll("a"));
  const first = rec.flush();
  await new Promise((r) => setImmediate(r));
  // Two more flushes wait behind the slow one, and a poll arrives meanwhile.
  const waiting = [rec.flush(), rec.flush()];
  rec.record(poll("a"));
  slow = false;
  release();
  await Promise.all([first, ...waiting]);
  const total = writes.filter((w) => w.sub === "a").reduce((n, w) => n + w.polls, 0);
  t.equal(total, 3, "every poll written exactly once");
  t.equal(rec.stats().pending, 0, "nothing left over");
  rec.record(poll("a"));
  await rec.flush();
  t.equal(writes.at(-1)?.polls, 1, "and the next poll is written too");
});

t.test("times stay exact across a move of the recorder's epoch (every 2^30 ms, so they stay small integers)", async (t) => {
  let now = 1_000_000;
  const writes: PollSummary[] = [];
  const rec = fleetRecorder({ write: async (batch) => void writes.push(...batch.map((p) => ({ ...p }))), minIntervalMs: 60_000, now: () => now });
  rec.record(poll("a"));
  await rec.flush();
  t.same(writes.map((w) => [w.sub, w.firstSeenAt]), [["a", 1_000_000]]);

  now = 1_000_000 + 2 ** 30 + 123; // 12.4 days later
  const late = now;
  rec.record(poll("a"));
  rec.record(poll("b"));
  await rec.flush(); // the epoch moves here
  t.same(writes.slice(1).map((w) => [w.sub, w.firstSeenAt, w.lastSeenAt, w.polls]), [["a", late, late, 1], ["b", late, late, 1]], "absolute times unchanged");

  now += 30_000;
  rec.record(poll("a"));
  await rec.flush();
  t.equal(writes.length, 3, "a was written 30 s ago (at the move): not again yet");
  now += 31_000;
  await rec.flush();
  t.same(writes.slice(3).map((w) => [w.sub, w.firstSeenAt, w.polls]), [["a", late + 30_000, 1]], "written once the minute is up, with its own time");
  now += 120_000;
  await rec.flush();
  t.equal(rec.stats().remembered, 0, "quiet licensees are still forgotten after the move");
});

t.test("a clock stepped far forward between flushes: the epoch moves at the next poll, times stay exact", async (t) => {
  let now = 5_000;
  const writes: PollSummary[] = [];
  const rec = fleetRecorder({ write: async (batch) => void writes.push(...batch.map((p) => ({ ...p }))), minIntervalMs: 60_000, now: () => now });
  rec.record(poll("a"));
  now = 5_000 + 2 ** 31 + 7; // 24.9 days later, no flush in between
  rec.record(poll("a"));
  rec.record(poll("b"));
  await rec.flush();
  t.same(writes.map((w) => [w.sub, w.firstSeenAt, w.lastSeenAt, w.polls]), [["a", 5_000, now, 2], ["b", now, now, 1]]);
});

await eachProvider(t, "far-future license exp: polls answered, every licensee recorded, the shutdown flush works", async (t, provider) => {
  const h = await testApp(t, { provider });
  const farFuture = [Number.MAX_SAFE_INTEGER, 1e20, 1e308];
  const tokens = [
    ...farFuture.map((exp, i) => h.license({ sub: `far-${i}`, exp })),
    ...Array.from({ length: 20 }, (_, i) => h.license({ sub: `lic-${i}` })),
  ];
  for (const tok of tokens) {
    const res = await h.poll(tok);
    t.equal(res.statusCode, 200, `${res.statusCode} ${res.statusCode === 200 ? "" : res.body}`);
  }
  await h.ctx.fleet.flush(true);
  const rows = await h.ctx.store.fleet.list();
  t.equal(rows.length, 23, "every licensee of the batch recorded");
  for (let i = 0; i < farFuture.length; i++) {
    t.equal(rows.find((r) => r.sub === `far-${i}`)?.licenseExpiresAt?.toISOString(), "9999-12-31T23:59:59.000Z", `exp ${farFuture[i]} recorded as the end of year 9999`);
  }
  t.equal(h.ctx.fleet.stats().refused, 0, "nothing refused: the exp was clamped at verification");
  const view = await h.admin("GET", "/fleet");
  t.equal(view.statusCode, 200, "the fleet view reads the rows back");

  // Recovery and the shutdown flush: the next polls are recorded by stop().
  for (const tok of tokens) t.equal((await h.poll(tok)).statusCode, 200);
  await h.ctx.fleet.stop();
  const after = await h.ctx.store.fleet.list();
  t.same(new Set(after.map((r) => r.pollCount)), new Set([2]), "every licensee's second poll written by the shutdown flush");
});

await eachProvider(t, "a row the database itself refuses is isolated: the rest of its batch is written, the flush ends", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  await migrate(url);
  const store = await createStore(url);
  t.teardown(() => store.close());
  const refused: string[] = [];
  const rec = fleetRecorder({ write: (b) => store.fleet.recordMany(b), minIntervalMs: 0, onRefused: (_err, s) => refused.push(s.sub) });
  // PostgreSQL refuses a NUL character in text (22021); SQLite stores it.
  const nul = "nul\u0000sub";
  for (let i = 0; i < 50; i++) rec.record({ ...poll(`lic-${i}`), releaseId: null, licenseExp: i === 3 ? 1e308 : null });
  rec.record({ ...poll(nul), releaseId: null });
  await rec.stop();
  const rows = await store.fleet.list();
  const subs = new Set(rows.map((r) => r.sub));
  t.ok(Array.from({ length: 50 }, (_, i) => `lic-${i}`).every((s) => subs.has(s)), "all 50 other licensees recorded");
  if (provider === "postgresql") t.same(refused, [nul], "PostgreSQL: the NUL row alone refused");
  else t.same(refused, [], "SQLite: nothing refused");
  t.equal(rec.stats().pending, 0, "nothing left to retry");
});

await eachProvider(t, "a fleet record the database refuses is counted in /metrics and logged, the others are recorded", async (t, provider) => {
  const h = await testApp(t, { provider });
  // PostgreSQL refuses a NUL character in text (22021); SQLite stores it.
  h.ctx.fleet.record(poll("fine-1"));
  h.ctx.fleet.record(poll("nul\u0000sub"));
  h.ctx.fleet.record(poll("fine-2"));
  await h.ctx.fleet.flush(true);
  const metrics = (await h.app.inject({ method: "GET", url: "/metrics" })).body;
  const refused = Number(/^chartroom_fleet_records_refused_total (\d+)/m.exec(metrics)?.[1]);
  t.equal(refused, provider === "postgresql" ? 1 : 0, `${provider}: chartroom_fleet_records_refused_total ${refused}`);
  const subs = new Set((await h.ctx.store.fleet.list()).map((r) => r.sub));
  t.ok(subs.has("fine-1") && subs.has("fine-2"), "the other licensees are recorded");
});
