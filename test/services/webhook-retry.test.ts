// The retry rule of webhook deliveries and the order rule (src/services/webhook-retry.ts), as tables.
import t from "tap";
import { dueHeads, nextAttemptAt, type RetryPolicy } from "../../src/services/webhook-retry.js";

const P: RetryPolicy = { baseMs: 10_000, maxMs: 3_600_000, giveUpMs: 86_400_000 };
const created = new Date("2026-12-01T00:00:00Z");
const at = (ms: number) => new Date(created.getTime() + ms);

t.test("back-off doubles from the base, capped, with up to half taken off at random", async (t) => {
  const rows: [attempts: number, random: number, delayMs: number][] = [
    [1, 1, 10_000],
    [1, 0, 5_000],
    [2, 1, 20_000],
    [3, 0.5, 30_000],
    [10, 1, 3_600_000],
    [10, 0, 1_800_000],
    [500, 1, 3_600_000],
  ];
  for (const [attempts, random, delay] of rows) {
    const now = at(60_000);
    t.equal(nextAttemptAt(P, attempts, created, now, () => random)!.getTime() - now.getTime(), delay, `attempt ${attempts}, random ${random}: ${delay} ms`);
  }
});

t.test("tried for a day, the last attempt at its end, then given up", async (t) => {
  t.equal(nextAttemptAt(P, 30, created, at(86_400_000 - 1000), () => 1)!.getTime(), at(86_400_000).getTime(), "never beyond the day");
  t.equal(nextAttemptAt(P, 31, created, at(86_400_000), () => 1), null, "at the end of the day: given up");
  t.equal(nextAttemptAt(P, 31, created, at(90_000_000), () => 0), null, "after it too");
  // With the defaults, a receiver down all day is tried about thirty times.
  let n = 0;
  for (let now: Date | null = created; now; n++) now = nextAttemptAt(P, n + 1, created, now, () => 1);
  t.ok(n > 20 && n < 40, `${n} attempts in a day`);
});

t.test("due heads: the oldest pending delivery per webhook and subject, once due and not leased", async (t) => {
  const now = at(0);
  const d = (id: number, webhookId: string, subject: string, dueIn = 0, leasedFor: number | null = null) => ({ id, webhookId, subject, nextAttemptAt: at(dueIn), leaseUntil: leasedFor === null ? null : at(leasedFor) });
  const rows: [string, ReturnType<typeof d>[], number[]][] = [
    ["one per subject", [d(1, "w", "channels/a"), d(2, "w", "channels/a"), d(3, "w", "channels/b")], [1, 3]],
    ["per webhook", [d(1, "w", "channels/a"), d(2, "v", "channels/a")], [1, 2]],
    ["a head not yet due blocks its subject", [d(1, "w", "channels/a", 5000), d(2, "w", "channels/a")], []],
    ["a leased head blocks its subject", [d(1, "w", "channels/a", 0, 30_000), d(2, "w", "channels/a"), d(3, "w", "freeze")], [3]],
    ["an expired lease is claimed again", [d(1, "w", "channels/a", 0, -1)], [1]],
    ["nothing pending", [], []],
  ];
  for (const [name, queue, ids] of rows) t.same(dueHeads(queue, now).map((x) => x.id), ids, name);
});
