import t from "tap";
import { fleetRecorder } from "../../src/services/fleet-recorder.js";
import type { PollSummary } from "../../src/repositories/fleet-repo.js";

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

t.test("a failed write keeps the polls for the next flush", async (t) => {
  let fail = true;
  const writes: PollSummary[] = [];
  const rec = fleetRecorder({ write: async (batch) => { if (fail) throw new Error("db down"); writes.push(...batch); }, minIntervalMs: 0 });
  rec.record(poll("a"));
  rec.record(poll("a"));
  await rec.flush();
  t.equal(writes.length, 0);
  rec.record(poll("a"));
  fail = false;
  await rec.flush();
  t.equal(writes.length, 1);
  t.equal(writes[0]!.polls, 3, "the failed polls and the newer one, merged");
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
